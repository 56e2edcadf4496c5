"""Weekly recurrence of a training series: the rule's fields, their checks, and the occurrences it makes.

Pure: plain values in (and `now`), plain values out; no database, no request. The dates come from dateutil's
`rrule` worked out in local wall-clock time, then each is read in the series' zone: 18:00 in Berlin stays 18:00 in
Berlin across daylight-saving changes. A local time the clocks skip (spring forward) is read with the offset before
the change, which moves it forward by the gap (02:30 -> 03:30), as RFC 5545 does; a local time that happens twice
(fall back) is its first reading (fold 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule as du
from flask_babel import lazy_gettext as _l

from portal.core.i18n import fill
from portal.core.timezones import is_valid_timezone
from portal.core.validation import is_int

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_RRULE_DAYS = dict(zip(WEEKDAYS, (du.MO, du.TU, du.WE, du.TH, du.FR, du.SA, du.SU), strict=True))
INTERVAL_MIN, INTERVAL_MAX = 1, 4
COUNT_MIN, COUNT_MAX = 1, 104
HORIZON = timedelta(days=365)  # no occurrence is created further ahead than this
RULE_FIELDS = ("first_start", "time_zone", "weekdays", "interval_weeks", "count", "until")


@dataclass(frozen=True)
class Rule:
    """A weekly rule. `first_start` is a naive local date-time in `time_zone`; exactly one of count/until."""

    first_start: datetime
    time_zone: str
    weekdays: tuple[str, ...]
    interval_weeks: int = 1
    count: int | None = None
    until: date | None = None

    def rrule(self) -> du.rrule:
        return du.rrule(
            du.WEEKLY,
            dtstart=self.first_start,
            interval=self.interval_weeks,
            byweekday=[_RRULE_DAYS[day] for day in self.weekdays],
            wkst=du.MO,
            count=self.count,
            until=datetime.combine(self.until, time(23, 59, 59)) if self.until is not None else None,
        )

    def rrule_text(self) -> str:
        """The RRULE value of an .ics (without the RRULE: prefix); UNTIL in UTC, as RFC 5545 wants with a zone."""
        parts = ["FREQ=WEEKLY", f"INTERVAL={self.interval_weeks}", f"BYDAY={','.join(self.weekdays)}", "WKST=MO"]
        if self.count is not None:
            parts.append(f"COUNT={self.count}")
        if self.until is not None:
            last = to_utc(datetime.combine(self.until, time(23, 59, 59)), self.time_zone)
            parts.append(f"UNTIL={last:%Y%m%dT%H%M%SZ}")
        return ";".join(parts)


@dataclass(frozen=True)
class Occurrence:
    local: datetime  # the rule's naive local date-time (the instance's identity, RECURRENCE-ID/EXDATE)
    start: datetime  # aware UTC: `local` read in the series' zone (a skipped time moved forward by the gap)


def to_utc(local: datetime, zone_name: str) -> datetime:
    """Naive local -> aware UTC: fold 0, so a repeated time is its first reading and a skipped one moves forward."""
    return local.replace(tzinfo=ZoneInfo(zone_name), fold=0).astimezone(UTC)


def occurrences(rule: Rule, *, now: datetime, horizon: timedelta = HORIZON) -> list[Occurrence]:
    """Every occurrence of `rule` that starts at most `horizon` after `now`, in order. Bounded: count and until are
    capped, and the loop stops at the first date past the horizon."""
    last = now + horizon
    found: list[Occurrence] = []
    for local in rule.rrule():
        start = to_utc(local, rule.time_zone)
        if start > last:
            break
        found.append(Occurrence(local, start))
    return found


def beyond_horizon(rule: Rule, *, now: datetime, horizon: timedelta = HORIZON) -> bool:
    """True if the rule has dates after the horizon (created later, as the horizon moves on)."""
    last = now + horizon
    return any(to_utc(local, rule.time_zone) > last for local in rule.rrule())


# ------------------------------------------------------------------------------------------------ validation
def check_rule(raw: dict[str, Any], *, now: datetime) -> tuple[Rule | None, dict[str, str]]:
    """Read and check the rule fields of `raw`; (Rule, {}) or (None, field -> message)."""
    errors: dict[str, str] = {}
    zone = raw.get("time_zone")
    if not is_valid_timezone(zone):
        errors["time_zone"] = _l("Choose a valid IANA time zone (for example Europe/Berlin).")
    first_start = _local_datetime(raw.get("first_start"), errors)
    weekdays = _weekdays(raw.get("weekdays"), errors)
    interval = raw.get("interval_weeks", 1)
    if not is_int(interval) or not INTERVAL_MIN <= interval <= INTERVAL_MAX:
        errors["interval_weeks"] = fill(
            _l("Repeat every %(low)d to %(high)d weeks."), low=INTERVAL_MIN, high=INTERVAL_MAX
        )
    count, until = raw.get("count"), raw.get("until")
    if count is None and until is None:
        errors["count"] = _l("Give either a number of occurrences (count) or an end date (until).")
    elif count is not None and until is not None:
        errors["until"] = _l("Give either count or until, not both.")
    if count is not None and (not is_int(count) or not COUNT_MIN <= count <= COUNT_MAX):
        errors["count"] = fill(
            _l("The number of occurrences must be between %(low)d and %(high)d."), low=COUNT_MIN, high=COUNT_MAX
        )
    until_date = _date(until, errors) if until is not None else None
    if errors:
        return None, errors
    assert first_start is not None and isinstance(zone, str)
    local_now = now.astimezone(ZoneInfo(zone))
    if to_utc(first_start, zone) <= now:
        errors["first_start"] = _l("The first start must be in the future.")
    if until_date is not None:
        if until_date < first_start.date():
            errors["until"] = _l("The end date cannot be before the first start.")
        elif until_date > (local_now + HORIZON).date():
            errors["until"] = _l("The end date can be at most 365 days ahead.")
    if errors:
        return None, errors
    rule = Rule(first_start, zone, weekdays, interval, count, until_date)
    if not occurrences(rule, now=now):
        return None, {"first_start": _l("Every occurrence would be more than 365 days ahead; start earlier.")}
    return rule, {}


def _local_datetime(value: Any, errors: dict[str, str]) -> datetime | None:
    message = "Give the first start as a local date and time, YYYY-MM-DDTHH:MM, without an offset."
    if not isinstance(value, str) or not 16 <= len(value) <= 19:
        errors["first_start"] = message
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        errors["first_start"] = message
        return None
    if parsed.tzinfo is not None:
        errors["first_start"] = message
        return None
    if not 1900 < parsed.year < 3000:
        errors["first_start"] = _l("Give a date between the years 1901 and 2999.")
        return None
    return parsed.replace(second=0, microsecond=0)


def _date(value: Any, errors: dict[str, str]) -> date | None:
    message = "Give the end date as YYYY-MM-DD."
    if not isinstance(value, str) or len(value) != 10:
        errors["until"] = message
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors["until"] = message
        return None


def _weekdays(value: Any, errors: dict[str, str]) -> tuple[str, ...]:
    message = f"Choose at least one weekday, from {' '.join(WEEKDAYS)}."
    if not isinstance(value, list) or not value or len(value) > len(WEEKDAYS) * 2:
        errors["weekdays"] = message
        return ()
    if any(not isinstance(day, str) or day.upper() not in WEEKDAYS for day in value):
        errors["weekdays"] = message
        return ()
    chosen = {day.upper() for day in value}
    return tuple(day for day in WEEKDAYS if day in chosen)


def parse_weekdays(text: str) -> tuple[str, ...]:
    """'MO,WE' as stored -> ('MO', 'WE')."""
    return tuple(day for day in text.split(",") if day)
