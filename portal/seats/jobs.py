"""Background jobs of the seats package: the release of no-shows' seats (cron, every minute; portal/schedule.py).

Each session is handled in its own transaction; the claim (a NoShowRelease row keyed by the session) makes the
release happen once per session however many sweeps run at once or twice (portal.seats.operations.release_no_shows).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from portal.core.clock import now_utc
from portal.extensions import db
from portal.seats import operations
from portal.seats.no_show_models import NoShowRelease
from portal.training.models import SessionStatus, TrainingSession

log = logging.getLogger(__name__)


def release_no_shows() -> int:
    """Every minute: live sessions with `release_no_shows` on that went live NO_SHOW_RELEASE_AFTER ago and were not
    released yet give their no-shows' seats to the waitlist. Returns how many seats were released."""
    now = now_utc()
    released_before = select(NoShowRelease.session_id).where(NoShowRelease.session_id == TrainingSession.id)
    ids = db.session.scalars(
        select(TrainingSession.id)
        .where(
            TrainingSession.status == SessionStatus.LIVE.value,
            TrainingSession.release_no_shows.is_(True),
            TrainingSession.started_at <= now - operations.NO_SHOW_RELEASE_AFTER,
            ~released_before.exists(),
        )
        .order_by(TrainingSession.started_at, TrainingSession.id)
    ).all()
    db.session.rollback()
    return sum(release_session_no_shows(session_id) for session_id in ids)


def release_session_no_shows(session_id: int) -> int:
    """Release one session's no-show seats (committed); how many were released (0 when done before or not due)."""
    session = db.session.get(TrainingSession, session_id, populate_existing=True)
    if session is None:
        db.session.rollback()
        return 0
    try:
        released = operations.release_no_shows(session)
        if released is None:
            db.session.rollback()
            return 0
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    log.info("session %s: %s no-show seat(s) released to the waitlist", session_id, len(released))
    return len(released)
