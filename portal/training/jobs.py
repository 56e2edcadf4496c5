"""Background jobs about training sessions: auto-end, the late-instructor notice and the daily cleanup (room
provisioning: training.rooms).

Each takes ids, reloads, re-checks state, and is safe to run twice and concurrently (a conditional UPDATE decides
who does the work)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from rq import Retry
from sqlalchemy import or_, select, update

from portal.config import current_settings
from portal.core.clock import now_utc
from portal.core.errors import Conflict, ServiceUnavailable
from portal.core.queue import enqueue
from portal.extensions import db
from portal.training import queries, rooms, signals
from portal.training.models import FINAL_STATUSES, EndReason, RoomStatus, SessionStatus, TrainingSession
from portal.training.operations import end_session

log = logging.getLogger(__name__)
AUTO_END_TIMEOUT = 60


# ------------------------------------------------------------------------------------------------ auto-end
def sweep_auto_end() -> int:
    """Every minute: live sessions AUTO_END_GRACE_MINUTES past their end, and scheduled ones never started (one
    job each); then the late-instructor notices (sweep_late_instructors), the other half of "not started on time".
    Returns how many auto-end jobs it enqueued."""
    ids = queries.overdue_session_ids(now_utc(), timedelta(minutes=current_settings().AUTO_END_GRACE_MINUTES))
    # Safe to retry: the job re-checks the state under the row lock.
    enqueued = sum(
        enqueue(
            end_overdue_session,
            i,
            job_id=f"auto-end-{i}",
            unique=True,
            job_timeout=AUTO_END_TIMEOUT,
            result_ttl=3600,
            retry=Retry(max=3, interval=[30, 60, 120]),
        )
        for i in ids
    )
    sweep_late_instructors()
    return enqueued


def end_overdue_session(session_id: int) -> str:
    session = _locked(session_id)
    cutoff = now_utc() - timedelta(minutes=current_settings().AUTO_END_GRACE_MINUTES)
    if session is None or session.is_final or session.end_time > cutoff:
        db.session.rollback()
        return "nothing to do"
    reason = EndReason.OVERDUE if session.status == SessionStatus.LIVE.value else EndReason.NOT_STARTED
    try:
        end_session(session, actor=None, reason=reason)
    except Conflict as exc:  # ended by someone else meanwhile
        db.session.rollback()
        return f"nothing to do: {exc.message}"
    db.session.commit()
    log.info("session %s ended automatically (%s)", session_id, reason.value)
    return reason.value


def _locked(session_id: int) -> TrainingSession | None:
    """Reload the row holding its write lock (a row lock on PostgreSQL, the write lock on SQLite), so two workers
    handling the same session run one after the other and the second sees the first one's result."""
    db.session.execute(
        update(TrainingSession)
        .where(TrainingSession.id == session_id)
        .values(status=TrainingSession.status)
        .execution_options(synchronize_session=False)
    )
    return db.session.scalars(
        select(TrainingSession).where(TrainingSession.id == session_id).execution_options(populate_existing=True)
    ).first()


# ------------------------------------------------------------------------------------------------ late instructor
LATE_AFTER = timedelta(minutes=5)  # SPEC "After the session": still scheduled this long after start_time


def sweep_late_instructors() -> int:
    """Every minute (sweep_auto_end runs it): sessions still `scheduled` LATE_AFTER past their start_time and not
    yet past their auto-end deadline get their late notice, once: `late_notice_at` is set (waiting members see it
    on the join panel) and `training.instructor_late` is sent (notifications email the instructors and the board).

    The candidates come from the index of sessions by status and start; each is claimed by a conditional UPDATE
    (`late_notice_at IS NULL`) in its own transaction, and only the worker whose UPDATE changed the row sends the
    signal: two sweeps running at once (or one run twice) notify once. Returns how many were notified."""
    now = now_utc()
    grace = timedelta(minutes=current_settings().AUTO_END_GRACE_MINUTES)
    ids = db.session.scalars(
        select(TrainingSession.id)
        .where(
            TrainingSession.status == SessionStatus.SCHEDULED.value,
            TrainingSession.start_time <= now - LATE_AFTER,
            TrainingSession.late_notice_at.is_(None),
            TrainingSession.end_time > now - grace,  # past it, auto-end ends it as not_started instead
            TrainingSession.archived_at.is_(None),
        )
        .order_by(TrainingSession.start_time, TrainingSession.id)
    ).all()
    db.session.rollback()
    return sum(notify_late_instructor(session_id, now) for session_id in ids)


def notify_late_instructor(session_id: int, now: datetime | None = None) -> bool:
    """Claim the late notice of one session and send it; False when another worker did, or it started meanwhile."""
    now = now or now_utc()
    claimed = db.session.execute(
        update(TrainingSession)
        .where(
            TrainingSession.id == session_id,
            TrainingSession.late_notice_at.is_(None),
            TrainingSession.status == SessionStatus.SCHEDULED.value,
            TrainingSession.start_time <= now - LATE_AFTER,
        )
        .values(late_notice_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        return False
    session = db.session.scalars(
        select(TrainingSession).where(TrainingSession.id == session_id).execution_options(populate_existing=True)
    ).one()
    signals.instructor_late.send(session)
    db.session.commit()
    log.info("session %s: the instructor is late; notice sent", session_id)
    return True


# ------------------------------------------------------------------------------------------------ cleanup
OPEN_ROOM_STATUSES = tuple(status.value for status in RoomStatus if status is not RoomStatus.INACTIVE)


def cleanup() -> dict[str, int]:
    """Daily: deactivate the rooms of ended and canceled sessions; archive sessions over ARCHIVE_AFTER_DAYS.

    Set-based where it can be: one statement marks every final session that never got a room as done, one
    archives; only rooms to close at the provider are handled one by one. Each filter seeks an index (rooms by
    room status and status, archiving by status and end among sessions not archived), so the work does not grow
    with the history."""
    now = now_utc()
    final_with_open_room = (
        TrainingSession.status.in_(FINAL_STATUSES),
        TrainingSession.room_status.in_(OPEN_ROOM_STATUSES),
    )
    db.session.execute(
        update(TrainingSession)
        .where(*final_with_open_room, TrainingSession.room_id.is_(None))
        .values(room_status=RoomStatus.INACTIVE.value)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    ids = db.session.scalars(
        select(TrainingSession.id).where(*final_with_open_room, TrainingSession.room_id.is_not(None))
    ).all()
    closed = failed = 0
    for session_id in ids:
        session = _locked(session_id)
        try:
            rooms.deactivate_room(session)
            db.session.commit()
            closed += 1
        except ServiceUnavailable as exc:
            db.session.rollback()
            failed += 1
            log.warning("room of session %s not closed (retried tomorrow): %s", session_id, exc)
    cutoff = now - timedelta(days=current_settings().ARCHIVE_AFTER_DAYS)
    archived = db.session.execute(
        update(TrainingSession)
        .where(
            TrainingSession.archived_at.is_(None),
            TrainingSession.status.in_(FINAL_STATUSES),
            or_(
                (TrainingSession.status == SessionStatus.ENDED.value)
                & (db.func.coalesce(TrainingSession.ended_at, TrainingSession.end_time) < cutoff),
                (TrainingSession.status == SessionStatus.CANCELED.value) & (TrainingSession.end_time < cutoff),
            ),
        )
        .values(archived_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return {"rooms_closed": closed, "rooms_failed": failed, "archived": archived}
