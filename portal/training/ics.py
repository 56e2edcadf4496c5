"""The .ics file of a session: start and end in UTC, title, the session page link, an alarm 10 minutes before."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from icalendar import Alarm, Calendar, Event

from portal.core.clock import now_utc
from portal.core.text import single_line
from portal.training.links import session_url
from portal.training.models import TrainingSession

ALARM_BEFORE = timedelta(minutes=10)


def session_uid(session: TrainingSession, base_url: str) -> str:
    """Stable per session, so calendars update the same entry when a session is rescheduled or canceled."""
    host = urlsplit(base_url).hostname or "portal"
    return f"training-session-{session.id}@{host}"


def session_ics(session: TrainingSession, *, base_url: str, canceled: bool = False) -> bytes:
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
