"""UTC inside, the viewer's zone at the edge: which zone a viewer has, and how times are shown to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from urllib.parse import unquote
from zoneinfo import ZoneInfo, available_timezones

from babel.core import Locale, get_global
from babel.dates import format_date, format_datetime, get_timezone_location
from flask import request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.config import current_settings
from portal.core.clock import now_utc
from portal.core.i18n import chosen_hour_cycle, formatting_locale
from portal.core.validation import check_in_calendar

TZ_COOKIE = "tz"

# The picker's groups: the time-zone database's own regions, in this order, under readable names. Older alias
# names (US/Eastern, Asia/Calcutta, ...) stay valid but are not offered, unless one is a person's current zone.
REGIONS = {
    "Africa": _l("Africa"),
    "America": _l("Americas"),
    "Antarctica": _l("Antarctica"),
    "Arctic": _l("Arctic"),
    "Asia": _l("Asia"),
    "Atlantic": _l("Atlantic Ocean"),
    "Australia": _l("Australia"),
    "Europe": _l("Europe"),
    "Indian": _l("Indian Ocean"),
    "Pacific": _l("Pacific"),
}
UNIVERSAL = _l("Universal")


class ZoneNames(tuple[str, ...]):
    """The zone names a person may choose (a plain tuple of names), which can also present themselves to the time-zone
    picker: grouped by region, each with a readable label."""

    def grouped(self, selected: str = "") -> list[tuple[str, list[tuple[str, str]]]]:
        """[(region label, [(zone name, label)])] for the picker, the offsets as of now. `selected` is always
        offered, even an alias name the list leaves out, so that a form shows the value a person has."""
        moment = now_utc()
        groups = list(_offered(self, moment.replace(minute=moment.minute // 15 * 15, second=0, microsecond=0)))
        if is_valid_timezone(selected) and _picker_region(selected) is None:
            name, label = zone_choice(selected, moment)
            groups.append((_l("Other names"), [(name, f"{name}: {label}")]))
        return groups


@lru_cache(maxsize=4)
def _offered(names: tuple[str, ...], moment: datetime) -> tuple[tuple[str, list[tuple[str, str]]], ...]:
    """The picker's groups at `moment` (a quarter hour: clocks change on one, so the offsets shown stay right)."""
    groups: dict[str, list[tuple[str, str]]] = {label: [] for label in (*REGIONS.values(), UNIVERSAL)}
    for name in names:
        region = _picker_region(name)
        if region is not None:
            groups[region].append(zone_choice(name, moment))
    return tuple((region, sorted(items, key=lambda item: item[1])) for region, items in groups.items() if items)


def _picker_region(name: str) -> str | None:
    """The picker group a zone is offered in; None for an old alias of another zone (US/Eastern, Asia/Calcutta,
    America/Atka: the CLDR's list of aliases, which keeps one zone per place) and names outside the regions."""
    if name == "UTC":
        return UNIVERSAL
    if name in _aliases() or "/" not in name:
        return None
    return REGIONS.get(name.split("/", 1)[0])


@cache
def _aliases() -> frozenset[str]:
    return frozenset(get_global("zone_aliases"))


@cache
def all_timezones() -> ZoneNames:
    zones = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))
    return ZoneNames((*zones, "UTC"))


@cache
def zone_place(name: str) -> tuple[str, str]:
    """(city, country) of a zone in plain English: ('São Paulo', 'Brazil'), ('Knox, Indiana', 'United States'),
    ('Kolkata', 'India'); the country is '' where the zone has none (UTC, Antarctic stations)."""
    if name == "UTC":
        return "UTC (Coordinated Universal Time)", ""
    city = get_timezone_location(name, locale="en", return_city=True)
    location = get_timezone_location(name, locale="en").removesuffix(" Time")
    country = location.split(" (", 1)[0] if " (" in location else location
    if country in {"world", "Unknown Region"} or country == city:
        country = ""
    return city, country


def zone_choice(name: str, moment: datetime) -> tuple[str, str]:
    """(name, 'New York, United States (GMT-5, EST)') of one zone, its offset and abbreviation as at `moment`."""
    city, country = zone_place(name)
    if name == "UTC":
        return name, city
    local = moment.astimezone(_zone(name))
    offset, abbreviation = gmt_offset(local.utcoffset()), zone_abbreviation(local)
    shown = offset if abbreviation in (offset, "GMT", "UTC") else f"{offset}, {abbreviation}"
    return name, f"{city}, {country} ({shown})" if country else f"{city} ({shown})"


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)  # ZoneInfo keeps only a few zones it made; the picker asks for 400 on each page


def gmt_offset(offset: timedelta | None) -> str:
    """'GMT-3', 'GMT+5:30', 'GMT' for an offset from UTC."""
    minutes = round((offset or timedelta()).total_seconds() / 60)
    if not minutes:
        return "GMT"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"GMT{sign}{hours}" + (f":{rest:02d}" if rest else "")


def zone_abbreviation(local: datetime) -> str:
    """The zone part of a shown time: the database's abbreviation where it has one ('CET', 'EDT', 'UTC'), else the
    offset as a name people read ('GMT-3' where the database only says '-03')."""
    name = local.tzname() or ""
    if name and name[0] not in "+-" and not name.isdigit():
        return name
    return gmt_offset(local.utcoffset())


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


def format_local(
    value: datetime | None, zone: ZoneInfo | str | None = None, fmt: str = "long", hour_cycle: str | None = None
) -> str:
    """'Tue 24 Nov 2026, 18:30 CET' in the viewer's zone (or `zone`): always with its zone. In the current locale
    (portal.core.i18n: 'Di., 24. Nov. 2026, 18:30 CET' in German, 'Tue, Nov 24, 2026, 6:30 PM EST' in en_US), on
    the clock `hour_cycle` names ('12'/'24'), else the one the viewer (or an email's recipient) chose, else the
    locale's own."""
    if value is None:
        return ""
    locale = formatting_locale()
    twelve = (hour_cycle or chosen_hour_cycle() or _locale_hour_cycle(locale)) == "12"
    return _formatted(value, zone or viewer_timezone(), fmt, locale, twelve)


@lru_cache(maxsize=4096)
def _formatted(value: datetime, zone: ZoneInfo | str, fmt: str, locale: Locale, twelve: bool) -> str:
    """format_local's answer, a pure function of these: kept, as a list of sessions or a burst of reminders formats
    the same few start times again and again (Babel's formatting is most of composing a reminder)."""
    local = to_zone(value, zone)
    clock = format_datetime(local, "h:mm a" if twelve else "HH:mm", locale=locale)
    if fmt == "time":
        return f"{clock} {zone_abbreviation(local)}"
    day = format_datetime(local, _date_pattern(locale), locale=locale)
    if fmt == "date":
        return day
    return f"{day}, {clock} {zone_abbreviation(local)}"


# Date patterns by language and region (CLDR field symbols); a locale not named here gets its CLDR medium date.
DATE_PATTERNS = {"en": "EEE dd MMM y", "en_US": "EEE, MMM d, y", "en_CA": "EEE, MMM d, y", "de": "EEE, d. MMM y"}


def _date_pattern(locale: Locale) -> str:
    key = f"{locale.language}_{locale.territory}" if locale.territory else locale.language
    pattern = DATE_PATTERNS.get(key) or DATE_PATTERNS.get(locale.language)
    return pattern or "EEE, " + locale.date_formats["medium"].pattern


def _locale_hour_cycle(locale: Locale) -> str:
    """'12' where the locale's clock is (en_US: 'h:mm a'); the portal's own 'en' (no region) keeps the 24-hour
    clock it always had."""
    if locale.territory is None and locale.language == "en":
        return "24"
    pattern = locale.time_formats["short"].pattern
    return "12" if "h" in pattern.replace("'h'", "") or "K" in pattern else "24"


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


@dataclass(frozen=True)
class Reading:
    """One way to read a local time: `fold` as Python numbers them (0 the first, 1 the second of a repeated time;
    0 for a time in a gap, read forward), `utc` the moment, `label` as a person reads it ('01:30 EST (second)')."""

    fold: int
    utc: datetime
    label: str


class LocalTimeChoice(ValueError):
    """A local time that needs a choice before it is a moment: it happens twice (the repeated hour when the clocks go
    back: two readings), or not at all (the hour skipped when they go forward: one reading, moved forward by the gap,
    as RFC 5545 reads it). The message says which; `readings` are the choices."""

    def __init__(self, message: str, readings: tuple[Reading, ...]):
        super().__init__(message)
        self.readings = readings


def _gap(length: timedelta) -> str:
    hours, minutes = divmod(round(length.total_seconds() / 60), 60)
    return " ".join(part for part in (f"{hours} h" if hours else "", f"{minutes} min" if minutes else "") if part)


def _clock(local: datetime) -> str:
    return f"{local:%H:%M} {zone_abbreviation(local)}"


def parse_local(date_text: str, time_text: str, zone_name: str, fold: int | None = None) -> datetime:
    """A form's local date + time in `zone_name` -> aware UTC. Raises ValueError with a user-facing message.

    A time that happens twice (clocks going back) needs `fold` (0 the first, 1 the second); a time that does not
    happen (clocks going forward) needs fold 0, the reading moved forward by the gap. Without it either raises
    LocalTimeChoice, which offers the readings: nothing is picked silently.
    """
    if not is_valid_timezone(zone_name):
        raise ValueError(gettext("Choose a valid time zone."))
    try:
        naive = datetime.strptime(f"{date_text.strip()} {time_text.strip()}", "%Y-%m-%d %H:%M")  # noqa: DTZ007
    except ValueError:
        raise ValueError(gettext("Enter a date (YYYY-MM-DD) and a time (HH:MM).")) from None
    zone = ZoneInfo(zone_name)
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    for reading in (first, second):
        _, error = check_in_calendar(reading)  # 0001-01-01 in Tokyo is before year 1 in UTC
        if error:
            raise ValueError(error)
    read_first, read_second = first.astimezone(UTC), second.astimezone(UTC)
    if read_first == read_second:
        return read_first
    day = format_date(naive.date(), "dd MMM y", locale=formatting_locale())
    if read_first < read_second:  # the clocks go back: the time happens twice, fold 0 first
        if fold in (0, 1):
            return (read_first, read_second)[fold]
        readings = (
            Reading(0, read_first, gettext("%(time)s (first)", time=_clock(read_first.astimezone(zone)))),
            Reading(1, read_second, gettext("%(time)s (second)", time=_clock(read_second.astimezone(zone)))),
        )
        raise LocalTimeChoice(
            gettext(
                "%(time)s on %(day)s in %(zone)s happens twice (the clocks go back that night): choose which one.",
                time=f"{naive:%H:%M}",
                day=day,
                zone=zone_name,
            ),
            readings,
        )
    # the clocks go forward: the time is skipped; fold 0 reads it with the offset before the change, which lands
    # as far after the change as the time is after its start (02:30 -> 03:30), the RFC 5545 reading
    if fold == 0:
        return read_first
    moved = _clock(read_first.astimezone(zone))
    gap = _gap(read_first - read_second)
    raise LocalTimeChoice(
        gettext(
            "%(time)s does not exist on %(day)s in %(zone)s: the clocks go forward %(gap)s that night, so it would be "
            "%(moved)s. Choose that, or enter another time.",
            time=f"{naive:%H:%M}",
            day=day,
            zone=zone_name,
            gap=gap,
            moved=moved,
        ),
        (
            Reading(
                0, read_first, gettext("%(moved)s (moved forward by the %(gap)s the clocks skip)", moved=moved, gap=gap)
            ),
        ),
    )
