"""A session's .ics made personal for a seat confirmation (RFC 5546, iTIP): METHOD:REQUEST when a person holds a
seat (a waitlist place: STATUS:TENTATIVE) and METHOD:CANCEL when they gave it up, with the portal as ORGANIZER and
the person as ATTENDEE, so calendar programs offer to add, update or remove the entry. The UID is the session's
own (portal.training.ics.session_uid), the same as in every other .ics and the calendar feed: the calendar keeps
one entry per session. SEQUENCE is at least the moment of this email, so a later change (a cancel after a
reserve, a reserve again after a cancel) wins over the copy the calendar has."""

from __future__ import annotations

from email.utils import parseaddr

from icalendar import Calendar, vCalAddress

from portal.accounts.models import User
from portal.config import Settings
from portal.core.clock import now_utc
from portal.core.text import single_line

REQUEST, CANCEL = "REQUEST", "CANCEL"


def personal_ics(session_ics: bytes, user: User, settings: Settings, *, method: str, tentative: bool = False) -> bytes:
    """`session_ics` (the session's own file) as an invitation to `user`, or its cancel."""
    calendar = Calendar.from_ical(session_ics)
    calendar.pop("METHOD", None)
    calendar.add("method", method)
    organizer_address = parseaddr(settings.MAIL_FROM)[1] or "portal@localhost"
    for event in calendar.walk("VEVENT"):
        organizer = vCalAddress(f"mailto:{organizer_address}")
        organizer.params["cn"] = "Training Portal"
        event.add("organizer", organizer)
        attendee = vCalAddress(f"mailto:{user.email}")
        attendee.params["cn"] = single_line(user.name) or user.email
        attendee.params["role"] = "REQ-PARTICIPANT"
        attendee.params["partstat"] = "TENTATIVE" if tentative else ("DECLINED" if method == CANCEL else "ACCEPTED")
        attendee.params["rsvp"] = "FALSE"
        event.add("attendee", attendee)
        sequence = max(int(event.get("sequence", 0)), int(now_utc().timestamp()))
        event.pop("SEQUENCE", None)
        event.add("sequence", sequence)
        if method == REQUEST:
            event.pop("STATUS", None)
            event.add("status", "TENTATIVE" if tentative else "CONFIRMED")
    return calendar.to_ical()
