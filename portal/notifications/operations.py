"""What to tell whom. Rows in `notifications` are the source of truth; jobs send them (portal.notifications.jobs).

Called by training and seats operations inside their transaction; they flush, the caller commits. Notices
(reschedule, cancel, promotion) are also pushed to the queue after the commit; the reminders sweep sends
anything the queue missed.

Exactly once: a row is unique per (kind, session, person); the sender claims it with one conditional UPDATE
(pending -> sending) and only the claimer sends.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from portal.config import current_settings
from portal.core.clock import now_utc
from portal.core.db import upsert_insert
from portal.extensions import db
from portal.notifications.models import Notification, NotificationStatus
from portal.notifications.queries import reminder_recipients_for, seat_holder_ids, unsent_reminders
from portal.notifications.rules import MAX_SEND_ATTEMPTS, REMINDER_PREFIX, is_owed, reminder_key, reminder_kind
from portal.seats.models import Seat
from portal.training.models import TrainingSession

PENDING, SENDING, SENT, SKIPPED, FAILED = (s.value for s in NotificationStatus)
ID_BATCH = 1000  # ids per UPDATE ... IN: well below SQLite's cap on the bound values of one statement


def plan_reminders(session: TrainingSession, *, entitled_since: datetime | None = None) -> None:
    """Create or re-time the reminders (24 h, 1 h, 10 min before start) for the instructor and seat holders.
    A reminder whose moment had passed when the person became entitled to it is stored as skipped (no late
    24 h reminder for a session created 3 h ahead). Safe to call any number of times, from any process."""
    plan_reminders_many([session], entitled_since=entitled_since)


def plan_reminders_many(sessions: list[TrainingSession], *, entitled_since: datetime | None = None) -> None:
    """`plan_reminders` for many sessions at once: two reads (plus one loading the rows to re-time, if any),
    one insert of the missing rows, one flush."""
    if not sessions:
        return
    if any(s.id is None for s in sessions):
        db.session.flush()
    now = now_utc()
    offsets = current_settings().REMINDER_OFFSETS
    existing = {row.key: row for row in unsent_reminders([s.id for s in sessions])}
    retimed: dict[int, datetime] = {}
    recipients = reminder_recipients_for(sessions)
    rows: list[dict[str, Any]] = []
    for session in sessions:
        for recipient in recipients.get(session.id, []):
            since = [t for t in (recipient.entitled_at, entitled_since) if t is not None]
            entitled_at = max(since) if since else now
            for offset in offsets:
                kind = reminder_kind(offset)
                key = reminder_key(session.id, recipient.user_id, kind)
                due_at = session.start_time - offset
                row = existing.get(key)
                if row is not None:
                    if row.due_at != due_at:  # rescheduled: re-time what was not sent
                        retimed[row.id] = due_at
                    continue
                owed = is_owed(due_at, entitled_at)
                rows.append(
                    {
                        "key": key,
                        "kind": kind,
                        "user_id": recipient.user_id,
                        "session_id": session.id,
                        "due_at": due_at,
                        "status": PENDING if owed else SKIPPED,
                        "last_error": None if owed else "its moment had passed when it was planned",
                    }
                )
    ids = list(retimed)
    for start in range(0, len(ids), ID_BATCH):
        for notification in db.session.scalars(
            select(Notification).where(Notification.id.in_(ids[start : start + ID_BATCH]))
        ).all():
            _retime(notification, retimed[notification.id], now)
    _insert_missing(rows)
    db.session.flush()


def _retime(row: Notification, due_at: datetime, now: datetime) -> None:
    row.due_at = due_at  # attempts stay: they name the send jobs (send-<id>-<attempts>), which must not repeat
    if due_at > now:
        row.status, row.last_error = PENDING, None
    else:
        row.status, row.last_error = SKIPPED, "its moment had passed when the session was rescheduled"


def notify_rescheduled(session: TrainingSession, old_start_time: datetime) -> None:
    """Tell seat holders the session moved; re-time their unsent reminders."""
    plan_reminders(session, entitled_since=now_utc())
    stamp = int(session.start_time.timestamp())
    _notify(
        session,
        seat_holder_ids(session.id),
        "rescheduled",
        lambda uid: f"rescheduled:{session.id}:{uid}:{stamp}",
        {"old_start_time": old_start_time.isoformat()},
    )


def notify_canceled(session: TrainingSession, seats: list[Seat]) -> None:
    """Tell the holders of `seats` (released by the cancel) that the session is canceled; drop unsent reminders."""
    db.session.execute(
        update(Notification)
        .where(
            Notification.session_id == session.id,
            Notification.kind.startswith(REMINDER_PREFIX, autoescape=True),
            Notification.status == PENDING,
        )
        .values(status=SKIPPED, last_error="the session was canceled")
    )
    _notify(session, sorted({seat.user_id for seat in seats}), "canceled", lambda uid: f"canceled:{session.id}:{uid}")


def notify_promoted(seat: Seat) -> None:
    """Tell a member their waitlist place became a confirmed seat. Plans no reminders: the caller
    (seats.operations.promote_waitlist) plans once after promoting."""
    session = db.session.get(TrainingSession, seat.session_id)  # the identity map's copy: no query when loaded
    stamp = int((seat.confirmed_at or now_utc()).timestamp())
    _notify(session, [seat.user_id], "promoted", lambda uid: f"promoted:{seat.session_id}:{uid}:{stamp}")


def _notify(session: TrainingSession, user_ids: list[int], kind: str, key_for, context: dict | None = None) -> None:
    now = now_utc()
    rows = [
        {
            "key": key_for(uid),
            "kind": kind,
            "user_id": uid,
            "session_id": session.id,
            "due_at": now,
            "status": PENDING,
            "context": context or {},
        }
        for uid in user_ids
    ]
    _insert_missing(rows)
    db.session.flush()
    keys = [row["key"] for row in rows]
    if not keys:
        return
    from portal.notifications.jobs import enqueue_send

    for row in db.session.scalars(
        select(Notification).where(Notification.key.in_(keys), Notification.status == PENDING)
    ).all():
        enqueue_send(row, after_commit=True)


def _insert_missing(rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT (key) DO NOTHING: two processes planning at once both succeed, one row each."""
    if not rows:
        return
    now = now_utc()
    for row in rows:
        row.setdefault("context", {})
        row.setdefault("attempts", 0)
        row["created_at"] = row["updated_at"] = now
    # executemany form: one compiled statement, batched by the driver layer (no cap on the rows of one call)
    db.session.execute(upsert_insert(Notification, db.session).on_conflict_do_nothing(index_elements=["key"]), rows)


# ------------------------------------------------------------------------------------------------ sending states
def claim(notification_id: int) -> bool:
    """pending -> sending, atomically; True only for the one caller that won."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.status == PENDING)
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
    """The send failed before the server accepted the message: try again later, or give up."""
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
