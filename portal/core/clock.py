"""The one clock. Everything that needs "now" calls now_utc(); tests move it with time-machine."""

from datetime import UTC, datetime


def now_utc() -> datetime:
    return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is a programming error here (the edges reject them)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: give a time zone")
    return value.astimezone(UTC)
