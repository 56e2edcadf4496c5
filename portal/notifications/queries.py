"""Reads for notifications: who gets a session's reminders, which rows are due, and what the sweeps look at."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select

from portal.extensions import db
from portal.notifications.models import Notification, NotificationStatus
from portal.notifications.rules import send_backoff
from portal.training.models import Seat, SeatStatus, SessionStatus, TrainingSession


@dataclass(frozen=True)
class Recipient:
    user_id: int
    entitled_at: datetime  # since when they are owed reminders


def reminder_recipients(session: TrainingSession) -> list[Recipient]:
    """The instructor and every member holding a confirmed seat (the instructor takes no seat)."""
    recipients = {session.instructor_id: Recipient(session.instructor_id, session.created_at)}
    seats = db.session.scalars(select(Seat).where(
        Seat.session_id == session.id, Seat.status == SeatStatus.CONFIRMED.value)).all()
    for seat in seats:
        recipients.setdefault(seat.user_id, Recipient(seat.user_id, seat.confirmed_at or seat.created_at))
    return list(recipients.values())


def seat_holder_ids(session_id: int, statuses: tuple[str, ...] = (SeatStatus.CONFIRMED.value,
                                                                  SeatStatus.WAITLISTED.value)) -> list[int]:
    return list(db.session.scalars(select(Seat.user_id).where(
        Seat.session_id == session_id, Seat.status.in_(statuses))).all())


def holds_confirmed_seat(session_id: int, user_id: int) -> bool:
    return db.session.scalar(select(Seat.id).where(
        Seat.session_id == session_id, Seat.user_id == user_id, Seat.status == SeatStatus.CONFIRMED.value)) is not None


def confirmed_pairs(session_ids: set[int]) -> set[tuple[int, int]]:
    """(session_id, user_id) of every confirmed seat in these sessions, in one query."""
    if not session_ids:
        return set()
    return {(s, u) for s, u in db.session.execute(select(Seat.session_id, Seat.user_id).where(
        Seat.session_id.in_(session_ids), Seat.status == SeatStatus.CONFIRMED.value)).all()}


def sessions_to_plan(now: datetime, horizon: timedelta) -> list[TrainingSession]:
    """Scheduled sessions close enough that their reminders must exist by now."""
    return list(db.session.scalars(select(TrainingSession).where(
        TrainingSession.status == SessionStatus.SCHEDULED.value,
        TrainingSession.start_time > now,
        TrainingSession.start_time <= now + horizon)).all())


def pending_due(now: datetime) -> list[Notification]:
    """Pending rows whose moment has come, oldest first."""
    return list(db.session.scalars(select(Notification).where(
        Notification.status == NotificationStatus.PENDING.value,
        Notification.due_at <= now).order_by(Notification.due_at, Notification.id)).all())


def ready_to_try(row: Notification, now: datetime) -> bool:
    """A row that failed before waits out its backoff."""
    return row.attempts == 0 or row.claimed_at is None or row.claimed_at + send_backoff(row.attempts) <= now


def stale_claims(now: datetime, older_than: timedelta) -> list[int]:
    return list(db.session.scalars(select(Notification.id).where(
        Notification.status == NotificationStatus.SENDING.value,
        or_(Notification.claimed_at.is_(None), Notification.claimed_at < now - older_than))).all())


def session_notifications(session_id: int, kinds_like: str | None = None) -> list[Notification]:
    query = select(Notification).where(Notification.session_id == session_id)
    if kinds_like:
        query = query.where(Notification.kind.like(kinds_like))
    return list(db.session.scalars(query.order_by(Notification.id)).all())


def unsent_reminders(session_id: int) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(
        Notification.session_id == session_id, Notification.kind.like("reminder_%"),
        Notification.status.in_([NotificationStatus.PENDING.value, NotificationStatus.SKIPPED.value]))).all())


def counts_by_status() -> dict[str, int]:
    rows = db.session.execute(select(Notification.status, func.count()).group_by(Notification.status)).all()
    return dict(rows)

