"""Pure building blocks of field validation, shared by every concept's rules.

A check takes a raw value and returns `(clean value, None)` or `(None, message)`, a message a person can act on;
`put` files that result into a rule's `clean` and `errors` dicts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database

Result = tuple[Any, str | None]


def put(clean: dict[str, Any], errors: dict[str, str], key: str, result: Result) -> None:
    """The one step from a check's (value, error) to a rule's clean values and errors."""
    value, error = result
    if error:
        errors[key] = error
    else:
        clean[key] = value


def is_int(value: Any) -> bool:
    """A whole number, and not a bool (JSON true is no number)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_id(value: Any) -> bool:
    """A whole number the database can hold as an id."""
    return is_int(value) and 1 <= value <= MAX_ID


def check_long_text(value: Any, limit: int, label: str = "description") -> Result:
    """Optional free text (None is ""), at most `limit` characters, no NUL byte; stripped."""
    if value is None:
        return "", None
    if not isinstance(value, str):
        return None, f"The {label} must be text."
    if "\x00" in value:
        return None, f"The {label} contains a character that is not allowed."
    if len(value) > limit:
        return None, f"Keep the {label} to {limit} characters (it has {len(value)})."
    return value.strip(), None


def parse_aware_datetime(value: Any) -> Result:
    """An aware UTC datetime from a datetime or an ISO 8601 string with an offset; a naive time is refused."""
    if isinstance(value, str):
        text = value.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return None, "Not a date and time; use ISO 8601, e.g. 2026-12-01T18:00:00+01:00."
    if not isinstance(value, datetime):
        return None, "Give a date and time in ISO 8601 with a time zone offset."
    if value.tzinfo is None or value.utcoffset() is None:
        return None, "This time has no time zone; add an offset like +01:00 or Z."
    return value.astimezone(UTC), None
