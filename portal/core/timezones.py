"""UTC inside, the viewer's zone at the edge: which zone a viewer has, and how times are shown to them."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from urllib.parse import unquote
from zoneinfo import ZoneInfo, available_timezones

from flask import request
from flask_login import current_user

from portal.config import current_settings
from portal.core.validation import check_in_calendar

TZ_COOKIE = "tz"


@cache
def all_timezones() -> tuple[str, ...]:
    zones = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))
    return (*zones, "UTC")


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_valid_timezone(name: object) -> bool:
    """A name the time-zone database lists. The one check of every zone that comes from outside (a cookie, a
    form, a stored profile) before ZoneInfo sees it: ZoneInfo reads the name as a file path and raises a
    different error for each bad one ("Europe" is a folder, 300 characters a name too long, a NUL a bad path),
    while the database's own list refuses them all alike."""
    return isinstance(name, str) and name in _known_zones()


def viewer_timezone() -> ZoneInfo:
    """The signed-in user's zone; else the zone the browser told us (cookie); else the default."""
    if current_user.is_authenticated and is_valid_timezone(current_user.timezone):
        return ZoneInfo(current_user.timezone)
    browser = browser_timezone()
    if browser:
        return ZoneInfo(browser)
    return ZoneInfo(current_settings().DEFAULT_TIMEZONE)


def browser_timezone() -> str | None:
    """The zone the visitor's browser reported (portal.js stores it URL-encoded in the `tz` cookie), if valid."""
    raw = request.cookies.get(TZ_COOKIE) if request else None
    name = unquote(raw) if raw else None
    return name if is_valid_timezone(name) else None


def to_zone(value: datetime, zone: ZoneInfo | str) -> datetime:
    return value.astimezone(ZoneInfo(zone) if isinstance(zone, str) else zone)


def format_local(value: datetime | None, zone: ZoneInfo | str | None = None, fmt: str = "long") -> str:
    """'Tue 24 Nov 2026, 18:30 CET' in the viewer's zone (or `zone`): always with its zone."""
    if value is None:
        return ""
    local = to_zone(value, zone or viewer_timezone())
    if fmt == "time":
        return local.strftime("%H:%M %Z")
    if fmt == "date":
        return local.strftime("%a %d %b %Y")
    return local.strftime("%a %d %b %Y, %H:%M %Z")


def format_duration(seconds: float | int | timedelta) -> str:
    """A countdown: '2 d 3 h', '1 h 05 min', '4 min 07 s', '12 s'."""
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    seconds = max(int(seconds), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def parse_local(date_text: str, time_text: str, zone_name: str) -> datetime:
    """A form's local date + time in `zone_name` -> aware UTC. Raises ValueError with a user-facing message.

    A time that does not exist in that zone (the hour skipped when clocks go forward) is refused rather
    than silently shifted.
    """
    if not is_valid_timezone(zone_name):
        raise ValueError("Choose a valid time zone.")
    try:
        naive = datetime.strptime(f"{date_text.strip()} {time_text.strip()}", "%Y-%m-%d %H:%M")  # noqa: DTZ007
    except ValueError:
        raise ValueError("Enter a date (YYYY-MM-DD) and a time (HH:MM).") from None
    zone = ZoneInfo(zone_name)
    utc, error = check_in_calendar(naive.replace(tzinfo=zone))  # 0001-01-01 in Tokyo is before year 1 in UTC
    if error:
        raise ValueError(error)
    if utc.astimezone(zone).replace(tzinfo=None) != naive:
        raise ValueError(f"{naive:%H:%M} does not exist on {naive:%d %b %Y} in {zone_name} (clocks change).")
    return utc
