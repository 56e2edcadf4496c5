"""The one clock. Everything that needs "now" calls now_utc(); tests move it with time-machine."""

from datetime import UTC, datetime


def now_utc() -> datetime:
    return datetime.now(UTC)
