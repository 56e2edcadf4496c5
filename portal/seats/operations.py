"""Seat, waitlist and attendance writes. They flush; the caller commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from portal.core.clock import now_utc
from portal.extensions import db
from portal.training.models import Attendance, Seat, SeatStatus, TrainingSession


def release_all(session: TrainingSession) -> list[Seat]:
    """A canceled session releases every seat and waitlist place; returns the seats that were held."""
    now = now_utc()
    held = db.session.scalars(select(Seat).where(
        Seat.session_id == session.id, Seat.status != SeatStatus.CANCELED.value)).all()
    for seat in held:
        seat.status = SeatStatus.CANCELED.value
        seat.canceled_at = now
    db.session.execute(update(TrainingSession).where(TrainingSession.id == session.id).values(seats_taken=0))
    session.seats_taken = 0
    db.session.flush()
    return list(held)


def close_attendance(session: TrainingSession, at: datetime | None = None) -> None:
    """The session ended: everyone still present has left now."""
    at = at or now_utc()
    present = db.session.scalars(select(Attendance).where(
        Attendance.session_id == session.id, Attendance.is_present.is_(True))).all()
    for row in present:
        row.is_present = False
        row.last_left_at = at
        row.watch_seconds += max(int((at - row.last_joined_at).total_seconds()), 0)
    db.session.flush()
