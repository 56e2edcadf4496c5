"""What one notification says by email (the email channel's compose step): subject, text and HTML bodies, the
.ics attachment, in the recipient's zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import formataddr
from zoneinfo import ZoneInfo

from flask import current_app

from portal.accounts.models import User
from portal.config import Settings
from portal.core.text import single_line
from portal.core.timezones import format_local, is_valid_timezone
from portal.notifications.mailer import Attachment, Mail
from portal.notifications.models import Notification
from portal.notifications.rules import is_reminder
from portal.training.ics import session_ics
from portal.training.links import session_url
from portal.training.models import TrainingSession


def _lead(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"in {hours} hour{'s' if hours != 1 else ''}"
    return f"in {minutes} minute{'s' if minutes != 1 else ''}"


def _subject(kind: str, title: str, lead: str) -> str:
    if is_reminder(kind):
        return f"Reminder: {title} starts {lead}"
    return {
        "rescheduled": f"New time: {title}",
        "canceled": f"Canceled: {title}",
        "promoted": f"You have a seat: {title}",
    }[kind]


def compose(notification: Notification, user: User, session: TrainingSession, settings: Settings) -> Mail:
    zone = user.timezone if is_valid_timezone(user.timezone) else settings.DEFAULT_TIMEZONE
    lead = _lead(session.start_time - notification.due_at) if is_reminder(notification.kind) else ""
    old = notification.context.get("old_start_time") if notification.context else None
    context = {
        "user": user,
        "session": session,
        "url": session_url(session.id, settings.BASE_URL),
        "when": format_local(session.start_time, ZoneInfo(zone)),
        "zone": zone,
        "lead": lead,
        "old_when": format_local(datetime.fromisoformat(old), ZoneInfo(zone)) if old else "",
        "join_window": settings.JOIN_WINDOW_MINUTES,
    }
    subject = _subject(notification.kind, session.title, lead)
    template = "reminder" if is_reminder(notification.kind) else notification.kind
    env = current_app.jinja_env  # rendered without request context processors: no request here
    text = env.get_template(f"emails/{template}.txt").render(subject=subject, **context)
    html = env.get_template(f"emails/{template}.html").render(subject=subject, **context)
    canceled = notification.kind == "canceled"
    ics = Attachment(
        "session.ics",
        session_ics(session, base_url=settings.BASE_URL, canceled=canceled),
        "text",
        "calendar",
        {"method": "CANCEL" if canceled else "PUBLISH"},
    )
    return Mail(
        to=formataddr((single_line(user.name), user.email)),  # cleaned before formataddr may encode it (RFC 2047)
        subject=subject,
        text=text,
        html=html,
        attachments=(ics,),
        message_key=message_key(notification),
    )


def message_key(notification: Notification) -> str:
    """The row and its moment: the same for a re-sent copy, new for a reminder due again after a reschedule
    (clients drop a message whose Message-ID they already have)."""
    return f"notification-{notification.id}-{notification.due_at:%Y%m%dT%H%M%SZ}"
