"""Standing bookings: a member books a whole training series. A seat, or a waitlist place where full, on every
future occurrence, each through the ordinary reserve (seats.operations.reserve: the atomic seat claim, the
waitlist, the seat_taken signal); occurrences made later get theirs when they are created (session_created with a
series_id). Canceling one occurrence's seat keeps the standing booking; ending it releases the future seats.
Writes flush and raise DomainErrors; the caller commits once.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from portal.accounts import signals as account_signals
from portal.accounts.models import User
from portal.audit.operations import record
from portal.core.clock import now_utc
from portal.core.errors import Conflict, DomainError, NotFound
from portal.extensions import db
from portal.seats import operations, rules
from portal.seats.models import Seat, SeatStatus
from portal.seats.standing_models import StandingBooking
from portal.training import signals as training_signals
from portal.training.models import TrainingSession
from portal.training.series import occurrences_of
from portal.training.series_models import TrainingSeries

ENTITY = "standing_booking"
HELD = (SeatStatus.CONFIRMED.value, SeatStatus.WAITLISTED.value)


def booking_of(series: TrainingSeries, user) -> StandingBooking | None:
    """The person's open standing booking of `series`, if any."""
    return db.session.scalar(
        sa.select(StandingBooking)
        .where(
            StandingBooking.series_id == series.id,
            StandingBooking.user_id == user.id,
            StandingBooking.ended_at.is_(None),
        )
        .execution_options(populate_existing=True)
    )


def future_occurrences(series: TrainingSeries) -> list[TrainingSession]:
    now = now_utc()
    return [s for s in occurrences_of(series) if not s.is_final and s.start_time > now]


def book_series(series: TrainingSeries, user) -> tuple[StandingBooking, list[Seat]]:
    """Open `user`'s standing booking and take a seat or waitlist place on every future occurrence. Refused as a
    seat would be (the first future occurrence's reserve check: members only, not signed in, ...); an occurrence
    that refuses on its own (it started meanwhile) is left out. Booking again is harmless: it fills gaps."""
    upcoming = future_occurrences(series)
    if not upcoming:
        raise Conflict(_l("This series has no future occurrence to book."), code="no_occurrence")
    reason = rules.reserve_refusal(upcoming[0], user)
    if reason is not None:
        raise operations.refusal_error(reason)
    booking = _open(series, user)
    seats = [seat for seat in (_reserve(session, user) for session in upcoming) if seat is not None]
    return booking, seats


def _open(series: TrainingSeries, user) -> StandingBooking:
    """The one row per person and series, opened (a concurrent double click meets the unique constraint)."""
    row = db.session.scalar(
        sa.select(StandingBooking).where(StandingBooking.series_id == series.id, StandingBooking.user_id == user.id)
    )
    if row is None:
        try:
            with db.session.begin_nested():
                row = StandingBooking(series_id=series.id, user_id=user.id)
                db.session.add(row)
            record("standing.book", ENTITY, row.id, user, {"series_id": series.id})
            return row
        except IntegrityError:
            row = db.session.scalar(
                sa.select(StandingBooking).where(
                    StandingBooking.series_id == series.id, StandingBooking.user_id == user.id
                )
            )
            assert row is not None
    if row.ended_at is not None:
        row.ended_at = None
        db.session.flush()
        record("standing.book", ENTITY, row.id, user, {"series_id": series.id})
    return row


def _reserve(session: TrainingSession, user) -> Seat | None:
    try:
        return operations.reserve(session, user, waitlist=True, via="standing")
    except DomainError:
        return None


def end_booking(series: TrainingSeries, user) -> list[int]:
    """End `user`'s standing booking: every future seat and waitlist place of the series is given up through the
    usual cancel (a released seat goes to the waitlist). Answers the session ids released."""
    booking = booking_of(series, user)
    if booking is None:
        raise NotFound(_l("You have no standing booking for this series."), code="not_booked")
    booking.ended_at = now_utc()
    released = []
    for session in future_occurrences(series):
        seat = operations.seat_of(session, user)
        if seat is None or seat.status not in HELD:
            continue
        try:
            operations.cancel_seat(session, user)
        except DomainError:
            continue
        released.append(session.id)
    db.session.flush()
    record("standing.end", ENTITY, booking.id, user, {"series_id": series.id, "released": released})
    return released


@training_signals.session_created.connect
def seat_standing_bookers(session: TrainingSession, **_: Any) -> None:
    """An occurrence made later: everyone with an open standing booking of its series gets a seat or a place."""
    if session.series_id is None:
        return
    bookers = db.session.scalars(
        sa.select(User)
        .join(StandingBooking, StandingBooking.user_id == User.id)
        .where(StandingBooking.series_id == session.series_id, StandingBooking.ended_at.is_(None))
        .order_by(StandingBooking.created_at, StandingBooking.id)
    ).all()
    for user in bookers:
        if user.is_active:
            _reserve(session, user)


@account_signals.user_deactivated.connect
def end_bookings_of_deactivated(user: User, **_: Any) -> None:
    """A deactivated person's standing bookings end (their seats are released by seats.receivers)."""
    db.session.execute(
        sa.update(StandingBooking)
        .where(StandingBooking.user_id == user.id, StandingBooking.ended_at.is_(None))
        .values(ended_at=now_utc())
        .execution_options(synchronize_session=False)
    )
