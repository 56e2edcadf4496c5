"""JSON helpers shared by every API blueprint: reading bodies and query arguments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, jsonify, request

from portal.core.errors import BadRequest
from portal.core.validation import MAX_ID, parse_json, whole_number


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what is wrong with it. Every JSON endpoint reads its body
    here, so what no endpoint can take (nesting past the parser's stack, NaN, a NUL or a lone surrogate in any
    text) is refused once for all; the body's size is capped by MAX_CONTENT_LENGTH (413) before it is read."""
    if not request.is_json:
        raise BadRequest("Send a JSON body with Content-Type: application/json.", code="malformed")
    data, problem = parse_json(request.get_data(cache=True))
    if problem:
        raise BadRequest(f"The body {problem}.", code="malformed")
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", code="malformed")
    return data


def int_arg(name: str, default: int | None, *, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """A whole-number query parameter (ASCII digits, an optional minus), `default` when absent; never beyond
    `maximum`, which is at most what a database integer holds, so it can go into any query."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    number = whole_number(raw.removeprefix("-"))
    if number is None:
        raise BadRequest(f"Query parameter {name!r} must be a whole number.", code="malformed")
    value = -number if raw.startswith("-") else number
    if not minimum <= value <= maximum:
        raise BadRequest(f"Query parameter {name!r} must be between {minimum} and {maximum}.", code="malformed")
    return value


def bool_arg(name: str, default: bool = False) -> bool:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise BadRequest(f"Query parameter {name!r} must be true or false.", code="malformed")


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with its offset (UTC inside)."""
    return value.isoformat() if value is not None else None


def created(body: dict[str, Any], location: str) -> tuple[Response, int]:
    """201 Created: the new resource's JSON, and where it lives (Location)."""
    response = jsonify(body)
    response.headers["Location"] = location
    return response, 201
