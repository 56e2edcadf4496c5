"""What one notification says by email (the email channel's compose step): subject, text and HTML bodies, the
.ics attachment, in the recipient's zone. A row without a session is an account email (portal.notifications
.account_mail): its one-time link is made here, at sending time, and never stored."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import formataddr
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import get_locale, gettext, ngettext
from flask_babel import lazy_gettext as _l
from markupsafe import escape
from werkzeug.routing import BuildError

from portal.accounts import tokens
from portal.accounts.models import User
from portal.config import Settings
from portal.core.clock import now_utc
from portal.core.i18n import recipient_locale
from portal.core.text import single_line
from portal.core.timezones import format_local, is_valid_timezone
from portal.notifications import consent, invites
from portal.notifications.mailer import Attachment, Mail
from portal.notifications.models import Notification
from portal.notifications.rules import is_reminder
from portal.training.ended import what_comes_next
from portal.training.ics import session_ics
from portal.training.links import session_url
from portal.training.models import TrainingSession


def _lead(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("in %(num)d hour", "in %(num)d hours", hours)
    return ngettext("in %(num)d minute", "in %(num)d minutes", minutes)


FIELD_NAMES = {"duration_minutes": _l("length"), "members_only": _l("who may join"), "chat_enabled": _l("chat")}


def _subject(kind: str, title: str, lead: str, dates: int = 0) -> str:
    if is_reminder(kind):
        return gettext("Reminder: %(title)s starts %(lead)s", title=title, lead=lead)
    if kind.startswith("series_"):
        if kind == "series_canceled":
            return ngettext(
                "Canceled: %(title)s, %(num)d date", "Canceled: %(title)s, %(num)d dates", dates, title=title
            )
        return ngettext("Changed: %(title)s, %(num)d date", "Changed: %(title)s, %(num)d dates", dates, title=title)
    return {
        "rescheduled": gettext("New time: %(title)s", title=title),
        "canceled": gettext("Canceled: %(title)s", title=title),
        "promoted": gettext("You have a seat: %(title)s", title=title),
        "seat_reserved": gettext("Seat confirmed: %(title)s", title=title),
        "seat_waitlisted": gettext("On the waitlist: %(title)s", title=title),
        "seat_canceled": gettext("Seat canceled: %(title)s", title=title),
        "starting_now": gettext("Starting now: %(title)s", title=title),
        "instructor_late": gettext("Not started yet: %(title)s", title=title),
        "not_started": gettext("Did not take place: %(title)s", title=title),
        "recording_ready": gettext("Recording ready: %(title)s", title=title),
        "lead_changed": gettext("New instructor: %(title)s", title=title),
        "no_show_released": gettext("Your seat went to the waitlist: %(title)s", title=title),
    }[kind]


# The .ics each kind carries: a seat confirmation invites (REQUEST) or cancels (CANCEL) the person's own entry; a
# reminder or a new time publishes the session; a canceled session cancels it. Kinds about a session that is over,
# going on, or several dates carry none.
ICS_METHODS = {
    "seat_reserved": invites.REQUEST,
    "seat_waitlisted": invites.REQUEST,
    "promoted": invites.REQUEST,
    "seat_canceled": invites.CANCEL,
}
NO_ICS = frozenset(
    {"starting_now", "instructor_late", "not_started", "recording_ready", "lead_changed", "no_show_released"}
)


def _attachments(notification: Notification, user: User, session: TrainingSession, settings: Settings) -> tuple:
    kind = notification.kind
    if kind in NO_ICS or kind.startswith("series_"):  # several dates: the series' own .ics is linked
        return ()
    canceled = kind in ("canceled", "seat_canceled")
    ics = _session_ics(session, settings.BASE_URL, canceled)
    method = ICS_METHODS.get(kind)
    if method is None:
        return (Attachment("session.ics", ics, "text", "calendar", {"method": "CANCEL" if canceled else "PUBLISH"}),)
    personal = invites.personal_ics(ics, user, settings, method=method, tentative=kind == "seat_waitlisted")
    return (Attachment("invite.ics", personal, "text", "calendar", {"method": method}),)


def _app_url(endpoint: str, fallback: str, base_url: str, **values: Any) -> str:
    """A page's address on BASE_URL, built from the URL map (no request here)."""
    try:
        path = current_app.url_map.bind("portal").build(endpoint, values)
    except (BuildError, RuntimeError):
        path = fallback
    return base_url.rstrip("/") + path


def _next_sessions(session: TrainingSession, user: User, zone: ZoneInfo, settings: Settings) -> list[dict]:
    """The next sessions this person may see, read when the email is composed (training.ended.what_comes_next:
    the same rule, and the same sessions, as the ended page)."""
    following, _of = what_comes_next(session, user, now_utc())
    return [
        {
            "title": other.title,
            "when": format_local(other.start_time, zone),
            "url": session_url(other.id, settings.BASE_URL),
        }
        for other in following
    ]


_ICS_CACHE: dict[tuple[Any, ...], bytes] = {}
_ICS_CACHE_SIZE = 64


def _session_ics(session: TrainingSession, base_url: str, canceled: bool) -> bytes:
    """The session's .ics, built once for a burst of its emails (a thousand reminders of one seminar): most of
    composing an email is building it. Keyed by the row's last change, so an edit builds it afresh."""
    key = (session.id, session.updated_at, session.start_time, session.end_time, session.status, session.title)
    key += (base_url, canceled)
    ics = _ICS_CACHE.get(key)
    if ics is None:
        if len(_ICS_CACHE) >= _ICS_CACHE_SIZE:
            _ICS_CACHE.clear()
        ics = _ICS_CACHE[key] = session_ics(session, base_url=base_url, canceled=canceled)
    return ics


def compose(notification: Notification, user: User, session: TrainingSession | None, settings: Settings) -> Mail:
    """The email in its recipient's language and clock (their profile), whatever the sending process speaks."""
    with recipient_locale(user.locale, user.hour_cycle):
        return _compose(notification, user, session, settings)


def _compose(notification: Notification, user: User, session: TrainingSession | None, settings: Settings) -> Mail:
    if session is None:
        return compose_account_email(notification, user, settings)
    zone = user.timezone if is_valid_timezone(user.timezone) else settings.DEFAULT_TIMEZONE
    lead = _lead(session.start_time - notification.due_at) if is_reminder(notification.kind) else ""
    old = notification.context.get("old_start_time") if notification.context else None
    extra = notification.context or {}
    unsubscribe = consent.unsubscribe_link(notification.kind, user, settings)
    context = {
        "user": user,
        "session": session,
        "url": session_url(session.id, settings.BASE_URL),
        "when": format_local(session.start_time, ZoneInfo(zone)),
        "zone": zone,
        "lead": lead,
        "old_when": format_local(datetime.fromisoformat(old), ZoneInfo(zone)) if old else "",
        "join_window": settings.JOIN_WINDOW_MINUTES,
        "unsubscribe_url": unsubscribe[0] if unsubscribe else "",
        "unsubscribe_label": unsubscribe[1] if unsubscribe else "",
        "new_lead": (extra.get("new_lead") or session.instructor.name) if notification.kind == "lead_changed" else "",
    }
    if notification.kind == "recording_ready":  # the portal's own pages: the provider's link is fetched at click
        context["recording_url"] = _app_url(
            "recordings.watch", f"/recordings/{session.id}/watch", settings.BASE_URL, session_id=session.id
        )
        context["recordings_url"] = _app_url("recordings.index", "/recordings", settings.BASE_URL)
    if notification.kind == "not_started":
        context["next_sessions"] = _next_sessions(session, user, ZoneInfo(zone), settings)
    starts = [datetime.fromisoformat(at) for at in extra.get("starts", [])]
    context["dates"] = [format_local(at, ZoneInfo(zone)) for at in starts]
    context["fields"] = [str(FIELD_NAMES.get(f, f.replace("_", " "))) for f in extra.get("fields", [])]
    subject = _subject(notification.kind, session.title, lead, len(starts))
    template = "reminder" if is_reminder(notification.kind) else notification.kind
    if template in SHARED_BODIES:
        text, html = _shared_bodies(template, subject, context)
    else:
        text, html = _render_bodies(template, subject, context)
    return Mail(
        to=formataddr((single_line(user.name), user.email)),  # cleaned before formataddr may encode it (RFC 2047)
        subject=subject,
        text=text,
        html=html,
        attachments=_attachments(notification, user, session, settings),
        message_key=message_key(notification),
    )


def _render_bodies(template: str, subject: str, context: dict[str, Any]) -> tuple[str, str]:
    env = current_app.jinja_env  # rendered without request context processors: no request here
    text = env.get_template(f"emails/{template}.txt").render(subject=subject, **context)
    html = env.get_template(f"emails/{template}.html").render(subject=subject, **context)
    return text, html


# ------------------------------------------------------------------------------------------------ shared bodies
# A thousand reminders of one seminar differ only in the name they greet and the unsubscribe link, once their
# language, zone and clock are the same: their bodies are rendered once, with placeholders for those two, and
# filled in per person (the name HTML-escaped in the HTML body, as the template would). Rendering was most of
# composing a reminder (bench/mail_burst.py; docs/performance.md). Only templates that read nothing else of their
# reader are listed: a shared body sees a reader with a name and nothing more, so a template that starts reading
# more renders differently, which tests/test_mail_shared_bodies.py catches (it renders each both ways and compares).
SHARED_BODIES = frozenset({"reminder"})
_NAME = "\ue000name\ue000"  # private-use characters: no template or translation writes them
_UNSUBSCRIBE = "\ue000unsubscribe\ue000"
_BODIES_KEPT = 256
_PER_READER = frozenset({"user", "unsubscribe_url", "session"})  # the session is in the key by id and last change
_BODIES_EXTENSION = "portal.email_bodies"  # per app: the brand and the templates are the app's


class _Reader(NamedTuple):
    """What a shared body may read of its reader."""

    name: str


def _shared_bodies(template: str, subject: str, context: dict[str, Any]) -> tuple[str, str]:
    session = context["session"]
    key = (
        template,
        subject,
        str(get_locale()),
        session.id,
        session.updated_at,  # any change of the session's own columns
        session.instructor.name if session.instructor else None,
        bool(context["unsubscribe_url"]),
        *sorted((name, repr(value)) for name, value in context.items() if name not in _PER_READER),
    )
    kept: dict[tuple, tuple[str, str]] = current_app.extensions.setdefault(_BODIES_EXTENSION, {})
    bodies = kept.get(key)
    if bodies is None:
        shared = {
            **context,
            "user": _Reader(_NAME),
            "unsubscribe_url": _UNSUBSCRIBE if context["unsubscribe_url"] else "",
        }
        bodies = _render_bodies(template, subject, shared)
        if len(kept) >= _BODIES_KEPT:
            kept.clear()
        kept[key] = bodies
    text, html = bodies
    name, link = context["user"].name, context["unsubscribe_url"]
    text = text.replace(_NAME, name).replace(_UNSUBSCRIBE, link)
    html = html.replace(_NAME, str(escape(name))).replace(_UNSUBSCRIBE, str(escape(link)))
    return text, html


ACCOUNT_SUBJECTS = {
    tokens.VERIFY_EMAIL: _l("Confirm your email address"),
    tokens.PASSWORD_RESET: _l("Reset your password"),
    tokens.INVITATION: _l("You are invited to the Training Portal"),
    tokens.EMAIL_CHANGE: _l("Confirm your new email address"),
}


def compose_account_email(notification: Notification, user: User, settings: Settings) -> Mail:
    with recipient_locale(user.locale, user.hour_cycle):
        return _compose_account_email(notification, user, settings)


def _compose_account_email(notification: Notification, user: User, settings: Settings) -> Mail:
    """A verification, reset, invitation or email-change email: its one-time link, valid from now, with the moment
    it expires in the recipient's zone. The email change goes to the new address (the row's context)."""
    kind = notification.kind
    context = notification.context or {}
    new_email = context.get("new_email") if kind == tokens.EMAIL_CHANGE else None
    token = tokens.make_token(kind, user, new_email=new_email)
    zone = user.timezone if is_valid_timezone(user.timezone) else settings.DEFAULT_TIMEZONE
    subject = str(ACCOUNT_SUBJECTS[kind])
    values = {
        "user": user,
        "url": tokens.link_url(kind, token, settings.BASE_URL),
        "expires": format_local(now_utc() + tokens.LIFETIMES[kind], ZoneInfo(zone)),
        "zone": zone,
        "new_email": new_email,
        "invited_by": context.get("invited_by"),
        "base_url": settings.BASE_URL,
    }
    env = current_app.jinja_env  # rendered without request context processors: no request here
    text = env.get_template(f"emails/{kind}.txt").render(subject=subject, **values)
    html = env.get_template(f"emails/{kind}.html").render(subject=subject, **values)
    return Mail(
        to=formataddr((single_line(user.name), new_email or user.email)),
        subject=subject,
        text=text,
        html=html,
        message_key=message_key(notification),
    )


def message_key(notification: Notification) -> str:
    """The row and its moment: the same for a re-sent copy, new for a reminder due again after a reschedule
    (clients drop a message whose Message-ID they already have)."""
    return f"notification-{notification.id}-{notification.due_at:%Y%m%dT%H%M%SZ}"
