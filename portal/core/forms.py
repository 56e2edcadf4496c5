"""Small helpers for HTML forms: the values a user typed come back with the errors, nothing is lost."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import render_template, request

from portal.core.timezones import parse_local, to_zone


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
    """Only same-site relative paths: never an open redirect."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def read_local_time(form: Mapping[str, str], prefix: str, missing: str) -> tuple[datetime | None, str | None]:
    """(aware UTC, None) from the `{prefix}_date` and `{prefix}_clock` fields read in the form's `timezone`;
    (None, message) when both are blank (`missing`) or they cannot be read."""
    date_text, clock_text = form.get(f"{prefix}_date", "").strip(), form.get(f"{prefix}_clock", "").strip()
    if not date_text and not clock_text:
        return None, missing
    try:
        return parse_local(date_text, clock_text, form.get("timezone", "")), None
    except ValueError as exc:
        return None, str(exc)


def local_values(value: datetime, zone: str, prefix: str) -> dict[str, str]:
    """The `{prefix}_date` and `{prefix}_clock` form fields showing `value` in `zone`, to the minute."""
    local = to_zone(value, zone)
    return {f"{prefix}_date": local.strftime("%Y-%m-%d"), f"{prefix}_clock": local.strftime("%H:%M")}
