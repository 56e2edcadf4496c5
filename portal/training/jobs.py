"""Background jobs about training sessions. Each takes ids, reloads, re-checks state, is safe to run twice."""

from __future__ import annotations

import logging

from portal.core.errors import ServiceUnavailable
from portal.extensions import db
from portal.training.models import FINAL_STATUSES, TrainingSession
from portal.video import operations as video

log = logging.getLogger(__name__)


def provision_room(session_id: int) -> str:
    """Give the session a room if it still needs one. A provider failure leaves it for the sweep to retry."""
    session = db.session.get(TrainingSession, session_id)
    if session is None or session.status in FINAL_STATUSES:
        return "skipped"
    try:
        room_id = video.ensure_room(session)
    except ServiceUnavailable:
        db.session.commit()  # keep the recorded failure (room_status=failed, room_error) for the instructor
        raise
    db.session.commit()
    return room_id
