"""Pure rules about notifications: names, who is owed which reminder, which due reminder goes out, backoff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

REMINDER_PREFIX = "reminder_"
MAX_SEND_ATTEMPTS = 8
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
    due_at: datetime


@dataclass(frozen=True)
class Decision:
    send: list[int]
    skip: dict[int, str]  # id -> why


def decide_due(
    reminders: list[DueReminder], *, now: datetime, start_time: datetime, session_status: str, is_recipient: bool
) -> Decision:
    """For one person and session: of the reminders already due, send only the latest; none after the start,
    none for a session that is no longer scheduled, none to someone who no longer holds a seat."""
    why_not = reminder_not_owed(
        session_status=session_status, start_time=start_time, now=now, is_recipient=is_recipient
    )
    if why_not:
        return Decision([], dict.fromkeys((r.id for r in reminders), why_not))
    due = sorted((r for r in reminders if r.due_at <= now), key=lambda r: (r.due_at, r.id))
    if not due:
        return Decision([], {})
    latest = due[-1]
    return Decision([latest.id], {r.id: "a later reminder was already due" for r in due[:-1]})


def send_backoff(attempts: int) -> timedelta:
    """Wait before the next try after `attempts` failed ones: 1, 2, 4, 8, 15, 15 ... minutes."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 15))
