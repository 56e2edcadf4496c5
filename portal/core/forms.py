"""Small helpers for HTML forms: the values a user typed come back with the errors, nothing is lost."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import render_template, request

from portal.core.timezones import LocalTimeChoice, Reading, parse_local, to_zone


def form_values() -> dict[str, Any]:
    """The submitted form as a dict (lists for repeated keys), to re-render it unchanged next to its errors."""
    values: dict[str, Any] = {}
    for key in request.form:
        items = request.form.getlist(key)
        values[key] = items if len(items) > 1 else items[0]
    return values


def render_invalid(template: str, errors: dict[str, str], status: int = 422, **context: Any):
    return render_template(template, errors=errors, values=form_values(), **context), status


def safe_next(target: str | None, default: str) -> str:
    """Only same-site relative paths: never an open redirect (no scheme, host, `//`, backslash, control character or
    whitespace, which browsers strip or read as a host)."""
    if not target or any(ord(char) < 0x21 or ord(char) == 0x7F for char in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


class TimeChoiceError(str):
    """The message of a local time that needs a choice (it happens twice, or falls in a clock-change gap), carrying
    the choices for the form: `choices` are (fold, label) for the `{prefix}_fold` radio, `key` the date, time and
    zone they were offered for (sent back as `{prefix}_fold_for`, so a choice never carries over to another time)."""

    choices: tuple[tuple[str, str], ...]
    key: str

    def __new__(cls, message: str, readings: tuple[Reading, ...], key: str) -> TimeChoiceError:
        error = super().__new__(cls, message)
        error.choices = tuple((str(r.fold), r.label) for r in readings)
        error.key = key
        return error


def _fold_key(date_text: str, clock_text: str, zone: str) -> str:
    return f"{date_text} {clock_text} {zone}"


def read_local_time(form: Mapping[str, str], prefix: str, missing: str) -> tuple[datetime | None, str | None]:
    """(aware UTC, None) from the `{prefix}_date` and `{prefix}_clock` fields read in the form's `timezone`;
    (None, message) when both are blank (`missing`) or they cannot be read.

    A local time that happens twice or not at all is read with the `{prefix}_fold` the form offered for this very
    time (`{prefix}_fold_for`); without one the message is a TimeChoiceError, whose choices the form shows."""
    date_text, clock_text = form.get(f"{prefix}_date", "").strip(), form.get(f"{prefix}_clock", "").strip()
    if not date_text and not clock_text:
        return None, missing
    zone = form.get("timezone", "")
    key = _fold_key(date_text, clock_text, zone)
    fold_text = form.get(f"{prefix}_fold", "")
    fold = int(fold_text) if fold_text in ("0", "1") and form.get(f"{prefix}_fold_for", "") == key else None
    try:
        return parse_local(date_text, clock_text, zone, fold), None
    except LocalTimeChoice as exc:
        return None, TimeChoiceError(str(exc), exc.readings, key)
    except ValueError as exc:
        return None, str(exc)


def local_values(value: datetime, zone: str, prefix: str) -> dict[str, Any]:
    """The `{prefix}_date` and `{prefix}_clock` form fields showing `value` in `zone`, to the minute. A time that
    happens twice in that zone also gets its `{prefix}_fold` (which of the two it is), `{prefix}_fold_for` and the
    `{prefix}_fold_choices` to show, so that the form sends back exactly the moment it showed."""
    local = to_zone(value, zone)
    date_text, clock_text = local.strftime("%Y-%m-%d"), local.strftime("%H:%M")
    values: dict[str, Any] = {f"{prefix}_date": date_text, f"{prefix}_clock": clock_text}
    try:
        parse_local(date_text, clock_text, zone)
    except LocalTimeChoice as exc:
        values[f"{prefix}_fold"] = str(local.fold)
        values[f"{prefix}_fold_for"] = _fold_key(date_text, clock_text, zone)
        values[f"{prefix}_fold_choices"] = tuple((str(r.fold), r.label) for r in exc.readings)
    except ValueError:
        pass  # a stored time is always readable; nothing to offer
    return values
