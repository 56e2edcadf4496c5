"""What to tell whom. Rows in `notifications` are the source of truth; portal.notifications.sending sends them.

Called by the receivers of training and seats signals inside the sender's transaction; they flush, the caller
commits. Each notification is planned once per enabled channel. Notices (reschedule, cancel, promotion) are also
pushed to the queue after the commit; the reminders sweep sends anything the queue missed.

Exactly once: a row is unique per (channel, key), its key naming (kind, session, person); the sender claims it with
one conditional UPDATE (pending -> sending) and only the claimer sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from portal.accounts.models import User
from portal.config import current_settings
from portal.core.clock import now_utc
from portal.core.db import upsert_insert
from portal.extensions import db
from portal.notifications import queries
from portal.notifications.channels import enabled_channels
from portal.notifications.consent import STARTING_NOW
from portal.notifications.models import Notification
from portal.notifications.queries import reminder_recipients_for, retimable_reminders, seat_holder_ids
from portal.notifications.rules import REMINDER_PREFIX, is_owed, reminder_key, reminder_kind
from portal.notifications.sending import ID_BATCH, PENDING, SENT, SKIPPED, enqueue_send_many, schedule_dispatch
from portal.seats.models import Seat
from portal.training.models import TrainingSession


def plan_reminders(session: TrainingSession, *, entitled_since: datetime | None = None) -> None:
    """Create or re-time the reminders (24 h, 1 h, 10 min before start) for the instructor and seat holders.
    A reminder whose moment had passed when the person became entitled to it is stored as skipped (no late
    24 h reminder for a session created 3 h ahead). After a reschedule, each reminder follows the new time, one
    already sent for the old time included. Safe to call any number of times, from any process."""
    plan_reminders_many([session], entitled_since=entitled_since)


def plan_reminders_many(sessions: list[TrainingSession], *, entitled_since: datetime | None = None) -> None:
    """`plan_reminders` for many sessions at once, on every enabled channel: two reads (plus one loading the rows
    to re-time, if any), one insert of the missing rows, one flush."""
    if not sessions:
        return
    if any(s.id is None for s in sessions):
        db.session.flush()
    now = now_utc()
    settings = current_settings()
    kinds = [(offset, reminder_kind(offset)) for offset in settings.REMINDER_OFFSETS]
    enabled = enabled_channels(settings)
    planned: dict[str, dict[str, Any]] = {channel: {} for channel in enabled}  # channel -> key -> row
    for row in retimable_reminders([s.id for s in sessions]):
        planned.setdefault(row.channel, {})[row.key] = row  # also a channel no longer enabled: its rows re-time
    retimed: dict[int, datetime] = {}
    rows: list[dict[str, Any]] = []
    for session, user_id, entitled_at in _recipients(sessions, entitled_since, now):
        for offset, kind in kinds:
            key = reminder_key(session.id, user_id, kind)
            due_at = session.start_time - offset
            for channel, existing in planned.items():
                row = existing.get(key)
                if row is not None and row.due_at != due_at:  # rescheduled: re-time it
                    retimed[row.id] = due_at
                elif row is None and channel in enabled:
                    owed = is_owed(due_at, entitled_at)
                    rows.append(_reminder_row(channel, key, kind, user_id, session.id, due_at, owed))
    moments = _retime(retimed, now)
    _insert_missing(rows)
    db.session.flush()
    moments.update(row["due_at"] for row in rows if row["status"] == PENDING)
    schedule_dispatch(moments, after_commit=True)  # each reminder goes out at its moment, not the next sweep


def _recipients(
    sessions: list[TrainingSession], entitled_since: datetime | None, now: datetime
) -> Iterator[tuple[TrainingSession, int, datetime]]:
    """(session, person, since when they are owed its reminders) for everyone who gets these sessions' reminders."""
    recipients = reminder_recipients_for(sessions)
    for session in sessions:
        for recipient in recipients.get(session.id, []):
            since = [t for t in (recipient.entitled_at, entitled_since) if t is not None]
            yield session, recipient.user_id, max(since) if since else now


def _reminder_row(
    channel: str, key: str, kind: str, user_id: int, session_id: int, due_at: datetime, owed: bool
) -> dict[str, Any]:
    return {
        "channel": channel,
        "key": key,
        "kind": kind,
        "user_id": user_id,
        "session_id": session_id,
        "due_at": due_at,
        "status": PENDING if owed else SKIPPED,
        "last_error": None if owed else "its moment had passed when it was planned",
    }


def _retime(due_by_id: dict[int, datetime], now: datetime) -> set[datetime]:
    """Move reminders to their new moment: pending again if it is still ahead (one sent for the old time too: it
    is due again for the new time), else skipped (one already sent stays sent: no late reminder). A row remembers
    the moments it was sent for (`context["sent_for"]`: moment -> when sent), so a session moved back to a time
    whose reminder went out already does not get it twice: exactly one send per (kind, start time). Returns the new
    moments of those pending again."""
    moments: set[datetime] = set()
    ids = list(due_by_id)
    for start in range(0, len(ids), ID_BATCH):
        batch = select(Notification).where(
            Notification.id.in_(ids[start : start + ID_BATCH]), Notification.status.in_([PENDING, SKIPPED, SENT])
        )
        for row in db.session.scalars(batch).all():
            context = dict(row.context or {})
            sent_for = dict(context.get("sent_for") or {})
            if row.status == SENT and row.sent_at is not None:
                sent_for[_moment(row.due_at)] = row.sent_at.isoformat()
            row.due_at = due_by_id[row.id]  # attempts stay: they name the send jobs
            if _moment(row.due_at) in sent_for:  # sent for this very start time already: never twice
                row.status, row.last_error = SENT, None
                row.sent_at = datetime.fromisoformat(sent_for[_moment(row.due_at)])
            elif row.due_at > now:
                row.status, row.last_error, row.sent_at = PENDING, None, None
                moments.add(row.due_at)
            elif row.status != SENT:
                row.status, row.last_error = SKIPPED, "its moment had passed when the session was rescheduled"
            if sent_for:
                row.context = {**context, "sent_for": sent_for}
    return moments


def _moment(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def notify_rescheduled(session: TrainingSession, old_start_time: datetime) -> None:
    """Tell seat holders the session moved; re-time its reminders (one sent for the old time is due again)."""
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
    drop_pending_reminders(session)
    _notify(session, sorted({seat.user_id for seat in seats}), "canceled", lambda uid: f"canceled:{session.id}:{uid}")


def notify_series_change(
    series_id: int, action: str, sessions: list[TrainingSession], user_ids: list[int], changes: dict, at: datetime
) -> None:
    """One email per person for a change to several occurrences of a series ("canceled" or "updated"), listing
    every affected date (kind series_canceled / series_updated; the row hangs on the first affected session)."""
    if not sessions or not user_ids:
        return
    fields = sorted({field for change in changes.values() for field in change})
    context = {"starts": [s.start_time.isoformat() for s in sessions], "fields": fields}
    stamp = int(at.timestamp())
    _notify(
        sessions[0], user_ids, f"series_{action}", lambda uid: f"series-{action}:{series_id}:{uid}:{stamp}", context
    )


def drop_pending_reminders(session: TrainingSession) -> None:
    """A canceled session's unsent reminders are skipped."""
    db.session.execute(
        update(Notification)
        .where(
            Notification.session_id == session.id,
            Notification.kind.startswith(REMINDER_PREFIX, autoescape=True),
            Notification.status == PENDING,
        )
        .values(status=SKIPPED, last_error="the session was canceled")
    )


def notify_promoted(seat: Seat) -> None:
    """Tell a member their waitlist place became a confirmed seat. Plans no reminders: the caller
    (seats.operations.promote_waitlist) plans once after promoting."""
    session = db.session.get(TrainingSession, seat.session_id)  # the identity map's copy: no query when loaded
    stamp = int((seat.confirmed_at or now_utc()).timestamp())
    _notify(session, [seat.user_id], "promoted", lambda uid: f"promoted:{seat.session_id}:{uid}:{stamp}")


def _notify(session: TrainingSession, user_ids: list[int], kind: str, key_for, context: dict | None = None) -> None:
    """One row per person and enabled channel, due now; each pending one is pushed to the queue after the commit."""
    now = now_utc()
    channels = enabled_channels(current_settings())
    rows = [
        {
            "channel": channel,
            "key": key_for(uid),
            "kind": kind,
            "user_id": uid,
            "session_id": session.id,
            "due_at": now,
            "status": PENDING,
            "context": context or {},
        }
        for uid in user_ids
        for channel in channels
    ]
    _insert_missing(rows)
    db.session.flush()
    keys = [row["key"] for row in rows]
    if not keys:
        return
    pending = db.session.scalars(
        select(Notification)
        .where(Notification.channel.in_(channels), Notification.key.in_(keys), Notification.status == PENDING)
        .order_by(Notification.id)
    ).all()
    enqueue_send_many(list(pending), after_commit=True)  # in batches: one SMTP connection per batch


def _insert_missing(rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT (channel, key) DO NOTHING: two processes planning at once both succeed, one row each."""
    if not rows:
        return
    now = now_utc()
    for row in rows:
        row.setdefault("context", {})
        row.setdefault("attempts", 0)
        row["created_at"] = row["updated_at"] = now
    # executemany form: one compiled statement, batched by the driver layer (no cap on the rows of one call)
    statement = upsert_insert(Notification, db.session).on_conflict_do_nothing(index_elements=["channel", "key"])
    db.session.execute(statement, rows)


# ------------------------------------------------------------------------------------------------ the session day
# Each of these writes one row per person (and enabled channel) under a key that names the event it tells of, so a
# signal sent twice, or a receiver run twice, still sends one email; consent (the person's preferences) is asked
# right before each send (portal.notifications.consent).
def _stamp(at: datetime | None) -> int:
    return int((at or now_utc()).timestamp())


def confirm_seat(seat: Seat, kind: str) -> None:
    """Confirm a seat reserved ("seat_reserved"), a waitlist place taken ("seat_waitlisted") or given up
    ("seat_canceled"): one email with the session's .ics (REQUEST, or CANCEL for a cancel). The key carries the
    moment of that change, so taking the seat again later is confirmed again."""
    session = db.session.get(TrainingSession, seat.session_id)
    at = {"seat_reserved": seat.confirmed_at, "seat_waitlisted": seat.waitlisted_at, "seat_canceled": seat.canceled_at}
    stamp = _stamp(at[kind])
    _notify(session, [seat.user_id], kind, lambda uid: f"{kind}:{seat.session_id}:{uid}:{stamp}")


def notify_starting_now(session: TrainingSession, user_ids: list[int]) -> None:
    """People who took a seat after the last reminder's moment (10 minutes before the start) and before the start
    get one "starting now" message instead of that reminder (none at all if it was sent to them for this start
    time). Their older reminders still pending and past due are skipped: no stale "starts in 1 hour"."""
    offsets = current_settings().REMINDER_OFFSETS
    now = now_utc()
    if not offsets or not user_ids or session.is_final:
        return
    last = min(offsets)
    if not session.start_time - last <= now < session.start_time:
        return
    kind = reminder_kind(last)
    moment = session.start_time - last
    owed = sorted(u for u in set(user_ids) if not queries.sent_for_moment(reminder_key(session.id, u, kind), moment))
    if not owed:
        return
    db.session.execute(
        update(Notification)
        .where(
            Notification.session_id == session.id,
            Notification.user_id.in_(owed),
            Notification.kind.startswith(REMINDER_PREFIX, autoescape=True),
            Notification.status == PENDING,
            Notification.due_at <= now,
        )
        .values(status=SKIPPED, last_error="the seat was taken after its moment: a starting-now message instead")
        .execution_options(synchronize_session=False)
    )
    stamp = _stamp(session.start_time)
    _notify(session, owed, STARTING_NOW, lambda uid: f"{STARTING_NOW}:{session.id}:{uid}:{stamp}")


def notify_instructor_late(session: TrainingSession) -> None:
    """The instructors (lead and assistants) and the board: the session has not started 5 minutes after its
    start time. Once per session and person."""
    people = sorted(set(queries.instructor_ids(session)) | set(queries.board_member_ids()))
    _notify(session, people, "instructor_late", lambda uid: f"instructor_late:{session.id}:{uid}")


def notify_not_started(session: TrainingSession) -> None:
    """The session ended without having started: its seat holders (confirmed and waitlisted) are told, with the
    next sessions of its series or event that each may see (read when the email is composed)."""
    _notify(session, seat_holder_ids(session.id), "not_started", lambda uid: f"not_started:{session.id}:{uid}")


def notify_recording_ready(session: TrainingSession) -> None:
    """The recording can be watched: one email per confirmed seat holder, no-shows included (a canceled seat is
    not held). Once per session: a session has one recording."""
    _notify(
        session,
        queries.confirmed_holder_ids(session.id),
        "recording_ready",
        lambda uid: f"recording_ready:{session.id}:{uid}",
    )


def notify_lead_changed(session: TrainingSession, old_lead_id: int, new_lead_id: int) -> None:
    """A substitute leads: the seat holders (confirmed and waitlisted) are told who. Once per change (old, new)."""
    if old_lead_id == new_lead_id:
        return
    new_lead = db.session.get(User, new_lead_id)
    context = {"new_lead_id": new_lead_id, "new_lead": new_lead.name if new_lead is not None else ""}
    _notify(
        session,
        [uid for uid in seat_holder_ids(session.id) if uid != new_lead_id],
        "lead_changed",
        lambda uid: f"lead_changed:{session.id}:{uid}:{old_lead_id}-{new_lead_id}",
        context,
    )


def notify_no_show_released(session: TrainingSession, seats: list[Seat]) -> None:
    """People who had not joined 5 minutes after the session went live lost their seat to the waitlist."""
    _notify(
        session,
        sorted({seat.user_id for seat in seats}),
        "no_show_released",
        lambda uid: f"no_show_released:{session.id}:{uid}",
    )
