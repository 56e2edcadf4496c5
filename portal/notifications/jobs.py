"""Jobs that send email. The reminders sweep (every minute) plans, decides and fans out; `send_notification`
claims one row and sends it.

Delivery guarantee: a row is sent by whoever flips it pending -> sending (one conditional UPDATE). A failure
before the server accepted the message puts it back to pending (retried with backoff by the sweep, up to
MAX_SEND_ATTEMPTS). A worker killed while holding a claim leaves it 'sending'; after STALE_CLAIM_AFTER the sweep
puts it back to pending. That is at-least-once only for a kill in the instant between the SMTP server's
"250 accepted" and our commit of 'sent'; the re-sent copy has the same Message-ID. Everywhere else: once.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from portal.accounts.models import User
from portal.config import current_settings
from portal.core.clock import now_utc
from portal.core.queue import enqueue, enqueue_after_commit
from portal.extensions import db
from portal.notifications import operations, queries
from portal.notifications.emails import compose
from portal.notifications.mailer import announce_transport, build_message, deliver
from portal.notifications.models import Notification, NotificationStatus
from portal.notifications.rules import (
    STALE_CLAIM_AFTER,
    DueReminder,
    decide_due,
    is_reminder,
    is_reminder_recipient,
    reminder_not_owed,
)
from portal.training.models import TrainingSession

log = logging.getLogger(__name__)
SEND_TIMEOUT = 60  # seconds; far below STALE_CLAIM_AFTER
PLAN_MARGIN_HOURS = 1  # reminders exist this long before their moment


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
    """Send one row, once. Re-checks that it is still wanted; safe to run twice or concurrently."""
    row = db.session.get(Notification, notification_id)
    if row is None or row.status != NotificationStatus.PENDING.value:
        return f"nothing to do ({row.status if row else 'gone'})"
    session = db.session.get(TrainingSession, row.session_id) if row.session_id else None
    user = db.session.get(User, row.user_id)
    why_not = _why_not(row, session, user)
    if why_not:
        operations.skip([row.id], why_not)
        db.session.commit()
        return f"skipped: {why_not}"
    if not operations.claim(row.id):
        db.session.rollback()
        return "claimed by another worker"
    db.session.commit()
    settings = current_settings()
    try:
        message = build_message(compose(row, user, session, settings), settings)
        where = deliver(message, settings)
    except Exception as exc:
        db.session.rollback()
        db.session.refresh(row)
        operations.release_after_failure(row, f"{type(exc).__name__}: {exc}")
        db.session.commit()
        log.warning("notification %s (%s) not sent, attempt %s: %s", row.id, row.kind, row.attempts, exc)
        raise
    _record_sent(row.id)
    log.info("notification %s (%s to user %s) sent via %s", row.id, row.kind, row.user_id, where)
    return f"sent: {where}"


def _record_sent(notification_id: int, tries: int = 5) -> None:
    """The message is out: recording that must not be lost to a brief database hiccup (a row left 'sending'
    would be re-sent after STALE_CLAIM_AFTER)."""
    for attempt in range(1, tries + 1):
        try:
            operations.mark_sent(notification_id)
            db.session.commit()
            return
        except SQLAlchemyError:
            db.session.rollback()
            if attempt == tries:
                raise
            time.sleep(0.5 * attempt)


def _why_not(row: Notification, session: TrainingSession | None, user: User | None) -> str | None:
    if user is None or not user.is_active:
        return "the recipient's account is closed"
    if session is None:
        return "the session is gone"
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


def sweep_reminders() -> dict[str, int]:
    """Every minute: recover dead claims, plan reminders for sessions coming up, decide which due rows go
    out (only the latest due per person; none after the start) and enqueue one send job per row."""
    settings = current_settings()
    announce_transport(settings)
    now = now_utc()
    recovered = operations.recover_stale_claims(queries.stale_claims(now, STALE_CLAIM_AFTER))
    horizon = max(settings.REMINDER_OFFSETS) + timedelta(hours=PLAN_MARGIN_HOURS)
    operations.plan_reminders_many(queries.sessions_to_plan(now, horizon))
    db.session.commit()

    due = queries.pending_due(now)
    to_send, skipped = _decide(due, now)
    operations.skip(skipped)
    db.session.commit()
    by_id = {row.id: row for row in due}
    sent = [by_id[i] for i in to_send if queries.ready_to_try(by_id[i], now)]
    for row in sent:
        enqueue_send(row)
    return {"recovered": recovered, "enqueued": len(sent), "skipped": len(skipped)}


def _decide(due: list[Notification], now) -> tuple[list[int], dict[int, str]]:
    to_send: list[int] = []
    skipped: dict[int, str] = {}
    groups: dict[tuple[int | None, int], list[Notification]] = defaultdict(list)
    for row in due:
        if is_reminder(row.kind):
            groups[(row.session_id, row.user_id)].append(row)
        else:
            to_send.append(row.id)
    sessions = _sessions({key[0] for key in groups})
    seated = queries.confirmed_pairs(set(sessions))
    for (session_id, user_id), rows in groups.items():
        session = sessions.get(session_id)
        if session is None:
            skipped.update({r.id: "the session is gone" for r in rows})
            continue
        is_recipient = is_reminder_recipient(
            user_id, instructor_id=session.instructor_id, holds_confirmed_seat=(session_id, user_id) in seated
        )
        decision = decide_due(
            [DueReminder(r.id, r.due_at) for r in rows],
            now=now,
            start_time=session.start_time,
            session_status=session.status,
            is_recipient=is_recipient,
        )
        to_send.extend(decision.send)
        skipped.update(decision.skip)
    return to_send, skipped


def _sessions(ids: set[int | None]) -> dict[int, TrainingSession]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {s.id: s for s in db.session.scalars(select(TrainingSession).where(TrainingSession.id.in_(ids))).all()}
