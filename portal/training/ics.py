"""The .ics file of a session: start and end in UTC, title, the session page link, an alarm 10 minutes before.
The .ics of a series: one VEVENT with its RRULE, EXDATEs for canceled occurrences, the series' VTIMEZONE, and a
VEVENT with RECURRENCE-ID for each occurrence moved off the rule.
A person's calendar feed: one VEVENT per session, shaped like a session's (no alarm), stamped with its last change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, Timezone, vRecur

from portal.core.clock import now_utc
from portal.core.text import single_line
from portal.training.links import session_url
from portal.training.models import TrainingSession
from portal.training.series_models import TrainingSeries

ALARM_BEFORE = timedelta(minutes=10)


def session_uid(session: TrainingSession, base_url: str) -> str:
    """Stable per session, so calendars update the same entry when a session is rescheduled or canceled."""
    host = urlsplit(base_url).hostname or "portal"
    return f"training-session-{session.id}@{host}"


def session_ics(session: TrainingSession, *, base_url: str, canceled: bool = False) -> bytes:
    """The session as one VEVENT (METHOD:PUBLISH, or CANCEL when canceled). Seat confirmations make it a
    personal iTIP REQUEST/CANCEL: portal.notifications.invites."""
    url = session_url(session.id, base_url)
    canceled = canceled or session.status == "canceled"
    calendar = Calendar()
    calendar.add("prodid", "-//Training Portal//training sessions//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if canceled else "PUBLISH")

    event = Event()
    event.add("uid", session_uid(session, base_url))
    event.add("dtstamp", now_utc())
    event.add("dtstart", session.start_time)
    event.add("dtend", session.end_time)
    event.add("summary", single_line(session.title))  # calendars take one line; control characters are refused
    event.add("url", url)
    event.add("description", f"Join from the session page: {url}")
    # A reschedule must win over the copy already in someone's calendar.
    event.add("sequence", int(session.updated_at.timestamp()) if session.updated_at else 0)
    if canceled:
        event.add("status", "CANCELLED")
    else:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"{single_line(session.title)} starts in 10 minutes")
        alarm.add("trigger", -ALARM_BEFORE)
        event.add_component(alarm)
    calendar.add_component(event)
    return calendar.to_ical()


@dataclass(frozen=True)
class FeedEntry:
    """One session of a calendar feed, and the person's part in it (a line of the description)."""

    session: TrainingSession
    canceled: bool = False
    note: str = ""


def calendar_ics(entries: Sequence[FeedEntry], *, base_url: str, name: str) -> bytes:
    """A subscribed calendar (METHOD:PUBLISH, what calendar programs expect of a feed): one VEVENT
    per session, UID stable, SEQUENCE / LAST-MODIFIED / DTSTAMP from the session's last change, so the same data
    gives the same bytes (the feed's ETag rests on that). Canceled ones say STATUS:CANCELLED. Never a join token,
    a room or a provider link: only the session page."""
    calendar = Calendar()
    calendar.add("prodid", "-//Training Portal//calendar feed//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", single_line(name))
    calendar.add("x-published-ttl", "PT1H")  # how often clients that honour it poll
    for entry in entries:
        session = entry.session
        url = session_url(session.id, base_url)
        changed = session.updated_at or session.created_at or now_utc()
        event = Event()
        event.add("uid", session_uid(session, base_url))
        event.add("dtstamp", changed)
        event.add("last-modified", changed)
        event.add("dtstart", session.start_time)
        event.add("dtend", session.end_time)
        event.add("summary", single_line(session.title))
        event.add("url", url)
        lines = [entry.note] if entry.note else []
        event.add("description", "\n".join([*lines, f"Join from the session page: {url}"]))
        event.add("sequence", int(changed.timestamp()))
        event.add("status", "CANCELLED" if entry.canceled else "CONFIRMED")
        calendar.add_component(event)
    return calendar.to_ical()


def series_ics(series: TrainingSeries, occurrences: Sequence[TrainingSession], *, base_url: str) -> bytes:
    """One VEVENT for the whole series: DTSTART at the rule's first date in the series' zone (TZID), the rule as
    RRULE, an EXDATE per canceled date, and the zone's VTIMEZONE so any calendar program reads the wall-clock
    times as the series means them. `occurrences`: the series' sessions (the link goes to the next one)."""
    rule = series.rule
    zone = ZoneInfo(series.time_zone)
    first_local = next(iter(rule.rrule()), rule.first_start)
    start = first_local.replace(tzinfo=zone, fold=0)
    host = urlsplit(base_url).hostname or "portal"
    calendar = Calendar()
    calendar.add("prodid", "-//Training Portal//training series//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(
        Timezone.from_tzinfo(
            zone,
            tzid=series.time_zone,
            first_date=(start - timedelta(days=366)).date(),
            last_date=(start + timedelta(days=2 * 366)).date(),
        )
    )
    event = Event()
    event.add("uid", f"training-series-{series.id}@{host}")
    event.add("dtstamp", now_utc())
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=series.duration_minutes))
    event.add("rrule", vRecur.from_ical(rule.rrule_text()))
    for key in series.canceled:
        event.add("exdate", datetime.fromisoformat(key).replace(tzinfo=zone, fold=0))
    event.add("summary", single_line(series.title))
    upcoming = [s for s in occurrences if not s.is_final]
    if upcoming:
        url = session_url(upcoming[0].id, base_url)
        event.add("url", url)
        event.add("description", f"Join each class from its session page, for example {url}")
    event.add("sequence", int(series.updated_at.timestamp()) if series.updated_at else 0)
    if series.canceled_at is not None:
        event.add("status", "CANCELLED")
    calendar.add_component(event)
    for exception in _exceptions(series, occurrences, zone, base_url):
        calendar.add_component(exception)
    return calendar.to_ical()


def _exceptions(
    series: TrainingSeries, occurrences: Sequence[TrainingSession], zone: ZoneInfo, base_url: str
) -> list[Event]:
    """An occurrence that is not where the rule puts it (moved on its own, given another length or title, or left
    at the old time by a later time-of-day change): a VEVENT with the series' UID and a RECURRENCE-ID naming the
    rule's date-time it replaces (RFC 5545 3.8.4.4). Canceled ones are EXDATEs instead."""
    host = urlsplit(base_url).hostname or "portal"
    found = []
    for session in occurrences:
        key = series.instances.get(str(session.id))
        if key is None or key in series.canceled or session.status == "canceled":
            continue
        rule_local = datetime.fromisoformat(key).replace(tzinfo=zone, fold=0)
        if (
            session.start_time == rule_local
            and session.duration_minutes == series.duration_minutes
            and session.title == series.title
        ):
            continue
        event = Event()
        event.add("uid", f"training-series-{series.id}@{host}")
        event.add("recurrence-id", rule_local)
        event.add("dtstamp", now_utc())
        event.add("dtstart", session.start_time.astimezone(zone))
        event.add("dtend", session.end_time.astimezone(zone))
        event.add("summary", single_line(session.title))
        event.add("url", session_url(session.id, base_url))
        changed = session.updated_at or session.created_at
        event.add("sequence", int(changed.timestamp()) if changed else 0)
        found.append(event)
    return found
