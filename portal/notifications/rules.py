"""Pure rules about notifications: names, who is owed which reminder, which due reminder goes out, backoff."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

REMINDER_PREFIX = "reminder_"
_UNITS = {"h": "hours", "m": "minutes", "s": "seconds"}  # the last letter of a reminder's kind
MAX_SEND_ATTEMPTS = 10  # with send_backoff: given up about an hour after the first failure
# A claim older than this belongs to a worker that died: the send job's timeout is far shorter.
STALE_CLAIM_AFTER = timedelta(minutes=5)


def reminder_kind(offset: timedelta) -> str:
    """24 h -> 'reminder_24h', 10 min -> 'reminder_10m'."""
    seconds = int(offset.total_seconds())
    if seconds % 3600 == 0:
        return f"{REMINDER_PREFIX}{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{REMINDER_PREFIX}{seconds // 60}m"
    return f"{REMINDER_PREFIX}{seconds}s"


def reminder_offset(kind: str) -> timedelta:
    """'reminder_24h' -> 24 h, 'reminder_10m' -> 10 min: the inverse of reminder_kind."""
    amount, unit = kind[len(REMINDER_PREFIX) : -1], kind[-1]
    return timedelta(**{_UNITS[unit]: int(amount)})


def is_reminder(kind: str) -> bool:
    return kind.startswith(REMINDER_PREFIX)


def reminder_key(session_id: int, user_id: int, kind: str) -> str:
    """The unique row of a reminder: one per session, person and kind."""
    return f"{kind}:{session_id}:{user_id}"


def is_owed(due_at: datetime, entitled_at: datetime) -> bool:
    """A reminder is owed only if its moment comes after the person became entitled to it (seat confirmed,
    session created or rescheduled): a session created 3 h ahead gets no late 24 h reminder."""
    return due_at > entitled_at


def is_reminder_recipient(user_id: int, *, instructor_id: int, holds_confirmed_seat: bool) -> bool:
    """Who is owed a session's reminders: its instructor (who takes no seat) and every confirmed seat holder."""
    return user_id == instructor_id or holds_confirmed_seat


def is_planned_for(kind: str, due_at: datetime, start_time: datetime) -> bool:
    """Whether a reminder's moment is the one of this start time. A reminder planned before a reschedule keeps
    the old moment until planning re-times it: it must not go out meanwhile ("starts in 1 hour", 25 h ahead)."""
    return due_at == start_time - reminder_offset(kind)


def reminder_not_due(kind: str, due_at: datetime, *, start_time: datetime, now: datetime) -> str | None:
    """Why a pending reminder must not go out at this moment (it stays pending), or None when it is due now."""
    if not is_planned_for(kind, due_at, start_time):
        return "planned for another start time (re-timed by planning)"
    if due_at > now:
        return "its moment is still ahead"
    return None


def reminder_not_owed(*, session_status: str, start_time: datetime, now: datetime, is_recipient: bool) -> str | None:
    """Why a planned reminder must no longer go out, or None while it is still owed."""
    if session_status != "scheduled":
        return f"the session is {session_status}"
    if now >= start_time:
        return "the session has started"
    if not is_recipient:
        return "no longer holds a seat"
    return None


@dataclass(frozen=True)
class DueReminder:
    id: int
    kind: str
    due_at: datetime


@dataclass(frozen=True)
class Decision:
    send: list[int]
    skip: dict[int, str]  # id -> why
    stale: list[int] = field(default_factory=list)  # planned for another start time: neither sent nor skipped


def decide_due(
    reminders: list[DueReminder], *, now: datetime, start_time: datetime, session_status: str, is_recipient: bool
) -> Decision:
    """For one person and session: of the reminders already due, send only the latest; none after the start,
    none for a session that is no longer scheduled, none to someone who no longer holds a seat. A reminder still
    at the moment of an older start time is left for planning to re-time (`stale`)."""
    why_not = reminder_not_owed(
        session_status=session_status, start_time=start_time, now=now, is_recipient=is_recipient
    )
    if why_not:
        return Decision([], dict.fromkeys((r.id for r in reminders), why_not))
    stale = [r.id for r in reminders if not is_planned_for(r.kind, r.due_at, start_time)]
    due = sorted((r for r in reminders if r.due_at <= now and r.id not in stale), key=lambda r: (r.due_at, r.id))
    if not due:
        return Decision([], {}, stale)
    latest = due[-1]
    return Decision([latest.id], {r.id: "a later reminder was already due" for r in due[:-1]}, stale)


def send_backoff(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed ones: 15 s, 30 s, then 1, 2, 4, 8, 15, 15 ... minutes. Short
    at first: a server that refused for some seconds gets the message within a minute of coming back (a dispatch
    is scheduled for the end of each backoff)."""
    if attempts <= 2:
        return timedelta(seconds=15 * max(attempts, 1))
    return timedelta(minutes=min(2 ** (attempts - 3), 15))


def notice_not_owed(
    kind: str, *, session_status: str, end_time: datetime, now: datetime, holds_seat: bool
) -> str | None:
    """Why a session-day notice still pending must no longer go out (it is skipped), or None: a "starting now"
    for a seat given up since, or a session over; an "instructor is late" once the session started or was
    canceled; a new lead for a session that is over."""
    if kind == "starting_now":
        if session_status in ("ended", "canceled") or now >= end_time:
            return f"the session is {session_status if session_status in ('ended', 'canceled') else 'over'}"
        if not holds_seat:
            return "no longer holds a seat"
    if kind == "instructor_late" and session_status != "scheduled":
        return f"the session is {session_status}"
    if kind == "lead_changed" and session_status in ("ended", "canceled"):
        return f"the session is {session_status}"
    return None
