"""Background jobs about training sessions: rooms, auto-end, daily cleanup. Each takes ids, reloads, re-checks
state, and is safe to run twice and concurrently (a conditional UPDATE decides who does the work)."""

from __future__ import annotations

import logging
from datetime import timedelta

from rq import Retry
from sqlalchemy import or_, select, update

from portal.config import current_settings
from portal.core.clock import now_utc
from portal.core.errors import Conflict, ServiceUnavailable
from portal.core.queue import enqueue
from portal.extensions import db
from portal.notifications.rules import room_backoff
from portal.training import queries
from portal.training.models import FINAL_STATUSES, EndReason, RoomStatus, SessionStatus, TrainingSession
from portal.video import operations as video

log = logging.getLogger(__name__)
PROVISION_TIMEOUT = 120  # seconds: the provider client retries inside one call
PROVISION_LEASE = timedelta(minutes=5)  # longer than PROVISION_TIMEOUT: one attempt at a time per session
AUTO_END_TIMEOUT = 60
CLEANUP_TIMEOUT = 900


# ------------------------------------------------------------------------------------------------ rooms
def provision_job_options(session: TrainingSession) -> dict:
    return {
        "job_id": f"provision-{session.id}-{session.room_attempts}",
        "unique": True,
        "job_timeout": PROVISION_TIMEOUT,
        "result_ttl": 3600,
    }


def provision_room(session_id: int) -> str:
    """Give the session a room if it still needs one. One attempt at a time per session (a lease in the row);
    a provider failure is recorded (room_status=failed, room_error) with the time of the next attempt."""
    if not _claim_provisioning(session_id):
        db.session.rollback()
        return "skipped: not needed, or another attempt is under way or backing off"
    db.session.commit()
    session = db.session.get(TrainingSession, session_id)
    try:
        room_id = video.ensure_room(session)
    except ServiceUnavailable as exc:
        session.room_next_attempt_at = now_utc() + room_backoff(session.room_attempts)
        db.session.commit()
        log.warning(
            "room for session %s not created (attempt %s, next at %s): %s",
            session_id,
            session.room_attempts,
            session.room_next_attempt_at,
            session.room_error or exc,
        )
        return f"failed: {session.room_error}"
    db.session.commit()
    return room_id


def _claim_provisioning(session_id: int) -> bool:
    now = now_utc()
    result = db.session.execute(
        update(TrainingSession)
        .where(
            TrainingSession.id == session_id,
            TrainingSession.status.not_in(FINAL_STATUSES),
            queries.needs_room_attempt(now),
        )
        .values(room_next_attempt_at=now + PROVISION_LEASE)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def sweep_rooms() -> int:
    """Every minute: sessions starting within PROVISION_AHEAD_HOURS (or live) without a ready room, whose backoff
    has run out, get a provisioning job. Catches enqueues lost while Redis was down."""
    now = now_utc()
    ahead = timedelta(hours=current_settings().PROVISION_AHEAD_HOURS)
    sessions = db.session.scalars(
        select(TrainingSession).where(
            TrainingSession.status.in_([SessionStatus.SCHEDULED.value, SessionStatus.LIVE.value]),
            TrainingSession.start_time <= now + ahead,
            queries.needs_room_attempt(now),
        )
    ).all()
    return sum(enqueue(provision_room, s.id, **provision_job_options(s)) for s in sessions)


# ------------------------------------------------------------------------------------------------ auto-end
def sweep_auto_end() -> int:
    """Every minute: live sessions AUTO_END_GRACE_MINUTES past their end, and scheduled ones never started."""
    ids = queries.overdue_session_ids(now_utc(), timedelta(minutes=current_settings().AUTO_END_GRACE_MINUTES))
    # Safe to retry: the job re-checks the state under the row lock.
    return sum(
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


def end_overdue_session(session_id: int) -> str:
    from portal.training.operations import end_session

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


# ------------------------------------------------------------------------------------------------ cleanup
def cleanup() -> dict[str, int]:
    """Daily: deactivate the rooms of ended and canceled sessions; archive sessions over ARCHIVE_AFTER_DAYS."""
    now = now_utc()
    ids = db.session.scalars(
        select(TrainingSession.id).where(
            TrainingSession.status.in_(FINAL_STATUSES),
            TrainingSession.room_id.is_not(None),
            TrainingSession.room_status != RoomStatus.INACTIVE.value,
        )
    ).all()
    closed = failed = 0
    for session_id in ids:
        session = _locked(session_id)
        try:
            video.deactivate_room(session)
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
