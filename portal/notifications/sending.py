"""Sending a row once, whatever its channel: the states of a row (pending -> sending -> sent; skipped; failed),
the send job and its enqueueing. The channel is looked up by the row's `channel` (portal.notifications.channels):
nothing here knows what a channel does.

Delivery guarantee: a row is sent by whoever flips it pending -> sending (one conditional UPDATE). A failure
before the channel accepted the message puts it back to pending (retried with backoff by the sweep, up to
MAX_SEND_ATTEMPTS). A worker killed while holding a claim leaves it 'sending'; after STALE_CLAIM_AFTER the sweep
puts it back to pending. That is at-least-once only for a kill in the instant between the channel's "accepted"
(an SMTP server's 250) and our commit of 'sent'; a re-sent email has the same Message-ID. Everywhere else: once.

A send job may wait in the queue while its session is rescheduled: right before claiming, it re-checks that a
reminder is due now for the session's current start time, and the claim holds only if the row still has the
moment that was checked. A re-timed row stays pending and the sweep sends it at its new moment (with the same job
id if its counter did not move: core.queue lets an ended job's id be enqueued again).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from portal.accounts.models import User
from portal.config import current_settings
from portal.core.clock import now_utc
from portal.core.queue import enqueue, enqueue_after_commit
from portal.extensions import db
from portal.notifications import consent, queries
from portal.notifications.channels import channel_named
from portal.notifications.models import Notification, NotificationStatus
from portal.notifications.rules import (
    MAX_SEND_ATTEMPTS,
    is_reminder,
    is_reminder_recipient,
    reminder_not_due,
    reminder_not_owed,
)
from portal.training.models import TrainingSession

log = logging.getLogger(__name__)
PENDING, SENDING, SENT, SKIPPED, FAILED = (s.value for s in NotificationStatus)
ID_BATCH = 1000  # ids per UPDATE ... IN: well below SQLite's cap on the bound values of one statement
SEND_TIMEOUT = 60  # seconds; far below STALE_CLAIM_AFTER


# ------------------------------------------------------------------------------------------------ the send job
def send_job_id(notification: Notification) -> str:
    """One job per row and attempt: two sweeps enqueueing the same attempt collide on the id (unique=True)."""
    return f"send-{notification.id}-{notification.attempts}"


def enqueue_send(notification: Notification, *, after_commit: bool = False) -> None:
    options = {
        "job_id": send_job_id(notification),
        "unique": True,
        "job_timeout": SEND_TIMEOUT,
        "result_ttl": 3600,
        "failure_ttl": 7 * 86400,
    }
    if after_commit:
        enqueue_after_commit(db.session, send_notification, notification.id, **options)
    else:
        enqueue(send_notification, notification.id, **options)


def send_notification(notification_id: int) -> str:
    """Send one row, once, on its channel. Re-checks, right before sending, that it is still wanted and due for
    its session's current time (a reschedule after the job was queued re-times the row: it waits for its new
    moment). Safe to run twice or concurrently."""
    row = db.session.get(Notification, notification_id)
    if row is None or row.status != PENDING:
        return f"nothing to do ({row.status if row else 'gone'})"
    session = db.session.get(TrainingSession, row.session_id) if row.session_id else None
    user = db.session.get(User, row.user_id)
    why_not = _why_not(row, session, user)
    if why_not:
        skip([row.id], why_not)
        db.session.commit()
        return f"skipped: {why_not}"
    not_now = _not_now(row, session)
    if not_now:
        db.session.rollback()
        return f"not now: {not_now}"
    if not claim(row.id, due_at=row.due_at):
        db.session.rollback()
        return "claimed by another worker, or re-timed meanwhile"
    db.session.commit()
    settings = current_settings()
    try:
        channel = channel_named(row.channel)
        where = channel.deliver(channel.compose(row, user, session, settings), settings)
    except Exception as exc:
        db.session.rollback()
        db.session.refresh(row)
        release_after_failure(row, f"{type(exc).__name__}: {exc}")
        db.session.commit()
        log.warning(
            "notification %s (%s by %s) not sent, attempt %s: %s", row.id, row.kind, row.channel, row.attempts, exc
        )
        raise
    _record_sent(row.id)
    log.info("notification %s (%s to user %s) sent by %s: %s", row.id, row.kind, row.user_id, row.channel, where)
    return f"sent: {where}"


def _record_sent(notification_id: int, tries: int = 5) -> None:
    """The message is out: recording that must not be lost to a brief database hiccup (a row left 'sending'
    would be re-sent after STALE_CLAIM_AFTER)."""
    for attempt in range(1, tries + 1):
        try:
            mark_sent(notification_id)
            db.session.commit()
            return
        except SQLAlchemyError:
            db.session.rollback()
            if attempt == tries:
                raise
            time.sleep(0.5 * attempt)


def _why_not(row: Notification, session: TrainingSession | None, user: User | None) -> str | None:
    if user is None:
        return "the recipient's account is gone"
    refused = consent.why_not_send(user, row.kind)
    if refused:
        return refused
    if session is None:
        return "the session is gone" if row.session_id is not None else None  # None: an account email
    if is_reminder(row.kind):
        seated = user.id != session.instructor_id and queries.holds_confirmed_seat(session.id, user.id)
        return reminder_not_owed(
            session_status=session.status,
            start_time=session.start_time,
            now=now_utc(),
            is_recipient=is_reminder_recipient(
                user.id, instructor_id=session.instructor_id, holds_confirmed_seat=seated
            ),
        )
    if row.kind == "rescheduled" and session.is_final:
        return f"the session is {session.status}"
    if row.kind == "promoted" and not queries.holds_confirmed_seat(session.id, user.id):
        return "no longer holds the seat"
    return None


def _not_now(row: Notification, session: TrainingSession) -> str | None:
    """Why a wanted row must wait (it stays pending): a reminder whose moment is not this one of its session."""
    if not is_reminder(row.kind):
        return None
    return reminder_not_due(row.kind, row.due_at, start_time=session.start_time, now=now_utc())


# ------------------------------------------------------------------------------------------------ sending states
def claim(notification_id: int, *, due_at: datetime | None = None) -> bool:
    """pending -> sending, atomically; True only for the one caller that won. With `due_at`, only if the row
    still has that moment: a reschedule committed since the caller's checks re-timed it, and it waits."""
    conditions = [Notification.id == notification_id, Notification.status == PENDING]
    if due_at is not None:
        conditions.append(Notification.due_at == due_at)
    result = db.session.execute(
        update(Notification)
        .where(*conditions)
        .values(status=SENDING, claimed_at=now_utc(), attempts=Notification.attempts + 1, updated_at=now_utc())
    )
    return result.rowcount == 1


def mark_sent(notification_id: int) -> None:
    db.session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.status == SENDING)
        .values(status=SENT, sent_at=now_utc(), last_error=None, updated_at=now_utc())
    )


def release_after_failure(notification: Notification, error: str) -> None:
    """The send failed before the channel accepted the message: try again later, or give up."""
    notification.status = PENDING if notification.attempts < MAX_SEND_ATTEMPTS else FAILED
    notification.last_error = error[:500]


def skip(notification_ids: list[int] | dict[int, str], reason: str | None = None) -> None:
    """Pending rows -> skipped with their reason: one UPDATE per distinct reason."""
    reasons = notification_ids if isinstance(notification_ids, dict) else dict.fromkeys(notification_ids, reason)
    by_reason: dict[str | None, list[int]] = defaultdict(list)
    for notification_id, why in reasons.items():
        by_reason[why].append(notification_id)
    now = now_utc()
    for why, ids in by_reason.items():
        for start in range(0, len(ids), ID_BATCH):
            db.session.execute(
                update(Notification)
                .where(Notification.id.in_(ids[start : start + ID_BATCH]), Notification.status == PENDING)
                .values(status=SKIPPED, last_error=why, updated_at=now)
            )


def recover_stale_claims(ids: list[int]) -> int:
    """Claims left 'sending' by a worker that died: back to pending (the message was not confirmed sent)."""
    if not ids:
        return 0
    result = db.session.execute(
        update(Notification)
        .where(Notification.id.in_(ids), Notification.status == SENDING)
        .values(status=PENDING, last_error="the worker stopped while sending; retried", updated_at=now_utc())
    )
    return result.rowcount
