"""The scheduling form: HTML form values <-> the plain values the operations take.

The form speaks local time (a date, a time and a time zone); operations speak aware UTC. A value that cannot even
be read (a duration of "abc") gets its own message here; everything else is checked by training.rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

from portal.core.forms import local_values, read_local_time
from portal.core.validation import whole_number
from portal.training import rules
from portal.training.models import MAX_ASSISTANTS, TrainingSession

CHECKBOXES = rules.BOOLEAN_FIELDS


def _int_or_error(text: str, message: str) -> tuple[int | None, str | None]:
    value = whole_number((text or "").strip())
    return (None, message) if value is None else (value, None)


def session_data(form: Mapping[str, str], *, allow_instructor: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """(data for operations, errors for values that could not be read)."""
    data: dict[str, Any] = {
        "title": form.get("title", ""),
        "description": form.get("description", ""),
        "tags": rules.split_tags(form.get("tags", "")),
    }
    errors: dict[str, str] = {}
    for key in CHECKBOXES:
        data[key] = form.get(key) == "on"
    _read_start(form, data, errors)
    numbers = {
        "duration_minutes": _l("Give the duration in whole minutes."),
        "capacity": _l("Give the capacity as a whole number, or leave it empty for no limit."),
        "event_id": _l("Choose an event from the list."),
    }
    for key, message in numbers.items():
        text = form.get(key, "").strip()
        if not text:
            if key != "duration_minutes":
                data[key] = None
            continue
        value, error = _int_or_error(text, message)
        if error:
            errors[key] = error
        else:
            data[key] = value
    data["assistant_ids"], error = read_assistant_ids(form)
    if error:
        errors["assistant_ids"] = error
    if allow_instructor and form.get("instructor_id", "").strip():
        value, error = _int_or_error(form["instructor_id"], _l("Choose an instructor from the list."))
        data["instructor_id"] = value
        if error:
            errors["instructor_id"] = error
    return data, errors


def read_user_id(text: str) -> tuple[int | None, str | None]:
    """A person picked from a list of instructors (their user id)."""
    if not (text or "").strip():
        return None, _l("Choose an instructor from the list.")
    return _int_or_error(text, _l("Choose an instructor from the list."))


def read_assistant_ids(form: Mapping[str, str]) -> tuple[list[int], str | None]:
    """The ticked assistants (checkboxes named assistant_ids, one per instructor); none ticked is none. The
    list is cut before it is read: more than a few cannot be valid (training.rules checks the rest)."""
    getlist = getattr(form, "getlist", None)
    raw = getlist("assistant_ids") if getlist else ([form["assistant_ids"]] if form.get("assistant_ids") else [])
    ids = []
    for text in raw[: MAX_ASSISTANTS + 1]:
        value, error = _int_or_error(text, _l("Choose assistants from the list."))
        if error or value is None:
            return [], error
        ids.append(value)
    return ids, None


def _read_start(form: Mapping[str, str], data: dict[str, Any], errors: dict[str, str]) -> None:
    start, error = read_local_time(form, "start", _l("Enter the date and time the session starts."))
    if error:
        errors["start_time"] = error
    else:
        data["start_time"] = start


def form_values(session: TrainingSession, zone: str) -> dict[str, Any]:
    """The edit form filled from a stored session, its start shown in `zone`."""
    values: dict[str, Any] = {
        "title": session.title,
        "description": session.description,
        "event_id": session.event_id or "",
        **local_values(session.start_time, zone, "start"),
        "timezone": zone,
        "duration_minutes": session.duration_minutes,
        "capacity": session.capacity or "",
        "tags": ", ".join(session.tags or []),
        "instructor_id": session.instructor_id,
    }
    if session.assistant_ids:  # the ticked checkboxes; none ticked is no value, as a browser sends it
        values["assistant_ids"] = [str(user_id) for user_id in session.assistant_ids]
    for key in CHECKBOXES:
        values[key] = "on" if getattr(session, key) else ""
    return values


def new_values(zone: str) -> dict[str, Any]:
    values: dict[str, Any] = {"timezone": zone, "duration_minutes": 60}
    for key, default in rules.BOOLEAN_DEFAULTS.items():
        values[key] = "on" if default else ""
    return values


# ------------------------------------------------------------------------------------------------ repeats weekly
ENDS = ("count", "until")


def repeats(form: Mapping[str, str]) -> bool:
    return form.get("repeats") == "on"


def rule_data(form) -> tuple[dict[str, Any], dict[str, str]]:
    """The "Repeats weekly" part -> (the rule fields recurrence.check_rule takes, errors for what cannot be read).
    The first start is the form's start date and time as given (local, in the form's `timezone`): a time in a
    clock-change gap is not asked about here, the series moves it forward (the preview says so)."""
    errors: dict[str, str] = {}
    date_text, clock_text = form.get("start_date", "").strip(), form.get("start_clock", "").strip()
    raw: dict[str, Any] = {
        "first_start": f"{date_text}T{clock_text}" if date_text and clock_text else "",
        "time_zone": form.get("timezone", ""),
        "weekdays": [day for day in form.getlist("weekdays") if day][:14],
    }
    interval, error = _int_or_error(
        form.get("interval_weeks", "1"), _l("Give the interval as a whole number of weeks.")
    )
    if error:
        errors["interval_weeks"] = error
    raw["interval_weeks"] = interval
    if form.get("ends", "count") == "until":
        raw["until"] = form.get("until", "").strip() or None
        if raw["until"] is None:
            errors["until"] = _l("Give the end date, or end after a number of sessions.")
    else:
        count, error = _int_or_error(form.get("count", ""), _l("Give the number of sessions as a whole number."))
        if error:
            errors["count"] = error
        raw["count"] = count
    return raw, errors


# check_rule's field -> the form field its message is shown at
RULE_ERROR_FIELDS = {"first_start": "start_time", "time_zone": "timezone"}


def rule_errors_at_fields(errors: Mapping[str, str]) -> dict[str, str]:
    return {RULE_ERROR_FIELDS.get(key, key): message for key, message in errors.items()}


# The scope choice of an occurrence's edit form (the cancel page offers the same three).
SERIES_SCOPES = (
    ("this", "This session"),
    ("following", "This and following sessions"),
    ("all", "All sessions of the series"),
)
