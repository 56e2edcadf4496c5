"""Seats' answers to what happens to sessions, events and in video rooms (signals of the packages below seats)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from portal.accounts import signals as account_signals
from portal.accounts.models import User
from portal.events import signals as event_signals
from portal.extensions import db
from portal.seats import operations, queries, signals
from portal.seats.models import Seat, SeatStatus
from portal.training import queries as sessions
from portal.training import signals as training_signals
from portal.training.models import FINAL_STATUSES, TrainingSession
from portal.training.rules import can_see_attendance
from portal.video import signals as video_signals


def capacity_grew(old: int | None, new: int | None) -> bool:
    """More seats than before: a limit raised, or lifted (None is unlimited)."""
    return new is None or (old is not None and new > old)


@training_signals.session_updated.connect
def fill_new_seats(session: TrainingSession, *, changes: dict[str, list[Any]], **_: Any) -> None:
    """New seats go to the waitlist first, in order."""
    if "capacity" in changes and capacity_grew(*changes["capacity"]):
        operations.promote_waitlist(session)


@training_signals.session_canceled.connect
def release_seats(session: TrainingSession, **_: Any) -> int:
    """A canceled session releases every seat and waitlist place; answers how many were held."""
    released = operations.release_all(session)
    signals.seats_released.send(session, seats=released, because="session_canceled")
    return len(released)


@training_signals.session_ended.connect
def close_attendance(session: TrainingSession, **_: Any) -> None:
    operations.close_attendance(session, session.ended_at)


@account_signals.user_deactivated.connect
def release_seats_of_deactivated(user: User, **_: Any) -> int:
    """A deactivated person gives up every seat and waitlist place in sessions not over yet, each through the
    usual cancel (the session's counter, then its waitlist promoted and told); past seats and attendance stay.
    Answers how many places were released."""
    held = db.session.scalars(
        select(Seat)
        .join(TrainingSession, TrainingSession.id == Seat.session_id)
        .where(
            Seat.user_id == user.id,
            Seat.status.in_((SeatStatus.CONFIRMED.value, SeatStatus.WAITLISTED.value)),
            TrainingSession.status.not_in(FINAL_STATUSES),
        )
        .order_by(TrainingSession.start_time, Seat.id)
    ).all()
    for seat in held:
        operations.cancel_seat(db.session.get(TrainingSession, seat.session_id), user)
    return len(held)


@training_signals.sessions_shown.connect
def panels_of(sessions: list[TrainingSession], *, viewer, **_: Any) -> dict[str, Any]:
    return {"panels": queries.join_panels(sessions, viewer)}


@training_signals.session_page.connect
def panel_and_attendance(session: TrainingSession, *, viewer, **_: Any) -> dict[str, Any]:
    context: dict[str, Any] = {"panel": queries.join_panels([session], viewer)[session.id]}
    if can_see_attendance(session, viewer):
        context["attendance_rows"] = queries.attendance_rows(session)
    return context


@event_signals.event_page.connect
def event_sessions(event, *, viewer, **_: Any) -> dict[str, Any]:
    """The event page lists the sessions the viewer may see, each with its join panel."""
    items = sessions.for_event(event.id, viewer)
    return {"sessions": items, "panels": queries.join_panels(items, viewer)}


def _session_and_user(room_id: str, user_id: int | None) -> tuple[TrainingSession | None, User | None]:
    return sessions.of_room(room_id), db.session.get(User, user_id) if user_id is not None else None


@video_signals.participant_joined.connect
def record_join(room_id: str, *, user_id: int | None, at: datetime, **_: Any) -> str | None:
    session, user = _session_and_user(room_id, user_id)
    if session is None or user is None:
        return None
    if session.status in FINAL_STATUSES:
        return f"session {session.id} is {session.status}: join not recorded"
    operations.record_join(session, user, at)
    return f"user {user.id} joined session {session.id}"


@video_signals.participant_left.connect
def record_leave(room_id: str, *, user_id: int | None, at: datetime, **_: Any) -> str | None:
    session, user = _session_and_user(room_id, user_id)
    if session is None or user is None:
        return None
    operations.record_leave(session, user, at)
    return f"user {user.id} left session {session.id}"
