"""Pure building blocks of field validation, shared by every concept's rules.

A check takes a raw value and returns `(clean value, None)` or `(None, message)`, a message a person can act on;
`put` files that result into a rule's `clean` and `errors` dicts.

Every check here does work linear in its input and raises nothing on any input: what the fuzzers send (lone
surrogates, NUL bytes, numbers beyond any column, dates beyond the calendar, JSON nested past the parser's stack)
comes back as a message, never as an exception that would answer 500.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from flask_babel import lazy_gettext as _l

MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database
# A form's or a query's whole number: ASCII digits only, at most this many (beyond 64 bits nothing fits a column).
WHOLE_NUMBER_DIGITS = 18
# Times the portal stores: far enough inside datetime's range (years 1 to 9999) that a zone's offset or a duration
# added to them never overflows, and wider than anything a club plans or looks back on.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
OUT_OF_CALENDAR = _l(
    "Give a date between the years %(first_year)s and %(last_year)s.",
    first_year=EARLIEST.year,
    last_year=LATEST.year - 1,
)
# Request bodies are a few levels deep (an object holding a list of tags); deeper is no request of ours, and deep
# enough nesting exhausts the parser's stack.
_INT_LIMIT = 2**63  # a 64-bit integer column
JSON_MAX_DEPTH = 32

Result = tuple[Any, str | None]

_SURROGATE = re.compile("[\ud800-\udfff]")


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


def whole_number(text: str) -> int | None:
    """The number that ASCII digits spell, else None. Not `str.isdigit()` + `int()`: isdigit() is True for "²",
    which int() refuses, and int() reads "١٢", " 12 " and "1_2", which no form of ours means."""
    digits = text.lstrip("0") if text.isascii() else ""
    if not text or len(digits) > WHOLE_NUMBER_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def encodable_text(text: str) -> bool:
    """No lone surrogate: half a UTF-16 pair (JSON's "\\ud800") that no UTF-8 can encode, so the database
    driver, a password hash or an email header would raise on it."""
    return _SURROGATE.search(text) is None


def storable_text(text: str) -> bool:
    """Encodable, and no NUL (PostgreSQL text cannot hold one)."""
    return "\x00" not in text and encodable_text(text)


def unstorable_text_message(label: str) -> str:
    return _l("The %(label)s contains a character that is not allowed.", label=label)


def check_long_text(value: Any, limit: int, label: str = "description") -> Result:
    """Optional free text (None is ""), at most `limit` characters, nothing no database can store; stripped."""
    if value is None:
        return "", None
    if not isinstance(value, str):
        return None, _l("The %(label)s must be text.", label=label)
    if len(value) > limit:
        return None, _l(
            "Keep the %(label)s to %(limit)s characters (it has %(length)s).",
            label=label,
            limit=limit,
            length=len(value),
        )
    if not storable_text(value):
        return None, unstorable_text_message(label)
    return value.strip(), None


def parse_aware_datetime(value: Any) -> Result:
    """An aware UTC datetime between EARLIEST and LATEST from a datetime or an ISO 8601 string with an offset;
    a naive time is refused."""
    if isinstance(value, str):
        text = value.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return None, _l("Not a date and time; use ISO 8601, e.g. 2026-12-01T18:00:00+01:00.")
    if not isinstance(value, datetime):
        return None, _l("Give a date and time in ISO 8601 with a time zone offset.")
    if value.tzinfo is None or value.utcoffset() is None:
        return None, _l("This time has no time zone; add an offset like +01:00 or Z.")
    return check_in_calendar(value)


def check_in_calendar(value: datetime) -> Result:
    """`value` (aware) in UTC, if it lies between EARLIEST and LATEST. Converting 0001-01-01T00:00+01:00 to UTC
    overflows datetime's range, so the overflow is one more way of being out of range."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        return None, OUT_OF_CALENDAR
    if not EARLIEST <= utc < LATEST:
        return None, OUT_OF_CALENDAR
    return utc, None


# ------------------------------------------------------------------------------------------------ JSON
def parse_json(raw: bytes) -> Result:
    """(the JSON value `raw` holds, None), or (None, what is wrong with it: "is ...", "has ...").

    Refused besides what is not JSON: nesting deeper than JSON_MAX_DEPTH (on a 100,000-deep body the parser's
    recursion fails first), NaN and the infinities (not JSON, and no column holds them), integers beyond 64 bits,
    and a NUL or a lone surrogate in any key or string (nothing can store or encode them: refused here, on the way
    in, for every endpoint at once)."""
    try:
        value = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except RecursionError:
        return None, f"is nested deeper than {JSON_MAX_DEPTH} levels"
    except json.JSONDecodeError:
        return None, "is not valid JSON"
    except ValueError as exc:  # not UTF-8, or refused by the hooks below
        return None, f"is not valid JSON ({exc})"
    problem = _unstorable(value)
    return (None, problem) if problem else (value, None)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _bounded_int(text: str) -> int:
    """Whole numbers a database column can hold (64 bits); checked before int(): thousands of digits cost time."""
    if len(text.lstrip("-")) > len(str(_INT_LIMIT)) or not -_INT_LIMIT <= int(text) < _INT_LIMIT:
        raise ValueError(f"{text[:20]} is beyond the range of a whole number")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is beyond the range of a number")
    return value


Trail = tuple["Trail", str | int] | None  # (the parent's trail, the key or index), None at the top


def _unstorable(value: Any) -> str | None:
    """What in a parsed JSON value cannot be stored, and where; None when all is well. Walks without recursion,
    each value once; where a value sits is kept as a link to its parent, spelled out only for the answer (a
    path string per value would copy a long key once for every value under it)."""
    pending: list[tuple[Any, Trail, int]] = [(value, None, 1)]
    while pending:
        item, trail, depth = pending.pop()
        if depth > JSON_MAX_DEPTH:
            return f"is nested deeper than {JSON_MAX_DEPTH} levels"
        if isinstance(item, dict):
            for key, inner in item.items():
                if not storable_text(key):
                    return _text_problem(key, "a key", trail)
                pending.append((inner, (trail, key), depth + 1))
        elif isinstance(item, list):
            pending.extend((inner, (trail, index), depth + 1) for index, inner in enumerate(item))
        elif isinstance(item, str) and not storable_text(item):
            return _text_problem(item, "text", trail)
    return None


def _spelled(trail: Trail) -> str:
    """'tags[3]', 'a.b' or 'the top level'; each key cut to 40 characters and its controls escaped (it may hold
    the very character refused)."""
    steps: list[str] = []
    while trail is not None:
        trail, step = trail
        steps.append(f"[{step}]" if isinstance(step, int) else "." + step[:40].encode("unicode_escape").decode())
    return "".join(reversed(steps)).removeprefix(".") or "the top level"


def _text_problem(text: str, what: str, trail: Trail) -> str:
    kind = "a NUL character" if "\x00" in text else "a lone surrogate (half of a UTF-16 pair)"
    return f"has {what} holding {kind}, which cannot be stored, at {_spelled(trail)}"
