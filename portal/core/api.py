"""JSON helpers shared by every API blueprint: reading bodies and query arguments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import request

from portal.core.errors import BadRequest


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 that says what is wrong with it."""
    if not request.is_json:
        raise BadRequest("Send a JSON body with Content-Type: application/json.", code="malformed")
    data = request.get_json(silent=True)
    if data is None:
        raise BadRequest("The body is not valid JSON.", code="malformed")
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", code="malformed")
    return data


def int_arg(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"Query parameter {name!r} must be a whole number.", code="malformed") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and {maximum}" if maximum is not None else ""
        raise BadRequest(f"Query parameter {name!r} must be between {minimum}{upper}.", code="malformed")
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
