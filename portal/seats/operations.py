"""Seat, waitlist, join and attendance writes. They flush and raise DomainErrors; the caller commits.

Taking a seat is one atomic step in the database: a conditional UPDATE of the session's `seats_taken` counter
(`... WHERE capacity IS NULL OR seats_taken < capacity`, checked by its row count) together with the person's
Seat row (unique per session and person). PostgreSQL serialises the counter update on the session's row lock;
SQLite serialises all writers (busy_timeout). A concurrent insert of the same Seat (a double click) is caught
by the unique constraint inside a savepoint and undone, so one person never holds two seats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from portal.core.clock import now_utc
from portal.core.errors import Conflict, DomainError, Forbidden, NotFound, Unauthorized
from portal.extensions import db
from portal.seats import rules, signals
from portal.seats.models import Attendance, Seat, SeatStatus
from portal.seats.no_show_models import NoShowRelease
from portal.seats.rules import Eligibility, Reason
from portal.training import rooms
from portal.training.models import SessionStatus, TrainingSession
from portal.video.port import JoinGrant

CONFIRMED, WAITLISTED, CANCELED = SeatStatus.CONFIRMED.value, SeatStatus.WAITLISTED.value, SeatStatus.CANCELED.value


# ------------------------------------------------------------------------------------------------ refusals
# The one mapping from a refusal's reason to its HTTP answer: 404, 401, 403, and 409 for every other reason (the
# session's or the seat's state).
_ERROR_OF_REASON: dict[Reason, type[DomainError]] = {
    Reason.NOT_FOUND: NotFound,
    Reason.LOGIN_REQUIRED: Unauthorized,
    Reason.MEMBERS_ONLY: Forbidden,
    Reason.MEMBERS_REQUIRED: Forbidden,
}


def refusal_error(reason: Reason, message: str | None = None, *, extra: dict | None = None) -> DomainError:
    """The DomainError of a refusal: its status, `reason` as the code, and its message (MESSAGES unless given)."""
    return _ERROR_OF_REASON.get(reason, Conflict)(message or rules.explain(reason), code=reason.value, extra=extra)


def join_refusal_error(elig: Eligibility) -> DomainError:
    """A refused join: the error body also names the reason and, when too early, when the window opens."""
    assert elig.reason is not None
    extra = {"reason": elig.reason.value}
    if elig.reason == Reason.TOO_EARLY:
        extra |= {
            "opens_at": elig.opens_at.isoformat() if elig.opens_at else None,
            "seconds_until_open": elig.seconds_until_open,
        }
    return refusal_error(elig.reason, elig.message, extra=extra)


# ------------------------------------------------------------------------------------------------ seat rows
def seat_of(session: TrainingSession, user) -> Seat | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(
        select(Seat)
        .where(Seat.session_id == session.id, Seat.user_id == user.id)
        .execution_options(populate_existing=True)
    )


def _bump_counter(session: TrainingSession, delta: int) -> bool:
    """+1 only while a seat is free; -1 never below zero. True if the row changed."""
    stmt = update(TrainingSession).where(TrainingSession.id == session.id)
    if delta > 0:
        stmt = stmt.where(
            or_(TrainingSession.capacity.is_(None), TrainingSession.seats_taken < TrainingSession.capacity)
        )
    else:
        stmt = stmt.where(TrainingSession.seats_taken > 0)
    result = db.session.execute(
        stmt.values(seats_taken=TrainingSession.seats_taken + delta).execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def claim_seat(session: TrainingSession, user, *, now: datetime | None = None) -> Seat | None:
    """Give `user` a confirmed seat if they hold none and one is free. Returns the confirmed seat, or None if full.

    Safe against double clicks and races: the counter only moves together with a Seat row that changes to
    confirmed. If another request confirmed the same person first (their insert wins the unique constraint, caught
    in a savepoint, or their status update wins), the counted seat is given back.
    """
    now = now or now_utc()
    db.session.flush()
    seat = seat_of(session, user)
    if seat is not None and seat.status == CONFIRMED:
        return seat
    if not _bump_counter(session, +1):
        _sync_counter(session)
        seat = seat_of(session, user)  # a concurrent request may have seated them just before the session filled
        return seat if seat is not None and seat.status == CONFIRMED else None
    confirmed = _confirm_row(session, user, seat, now)
    if confirmed is None:  # another request confirmed this person meanwhile: give the counted seat back
        _bump_counter(session, -1)
        confirmed = seat_of(session, user)
    _sync_counter(session)
    return confirmed


def _confirm_row(session: TrainingSession, user, seat: Seat | None, now: datetime) -> Seat | None:
    """Make the person's Seat row confirmed. None if another request confirmed it first (nothing changed)."""
    if seat is None:
        try:
            with db.session.begin_nested():
                seat = Seat(session_id=session.id, user_id=user.id, status=CONFIRMED, confirmed_at=now)
                db.session.add(seat)
        except IntegrityError:
            seat = seat_of(session, user)
            if seat is None or seat.status == CONFIRMED:
                return None
        else:
            return seat
    changed = db.session.execute(
        update(Seat)
        .where(Seat.id == seat.id, Seat.status != CONFIRMED)
        .values(status=CONFIRMED, confirmed_at=now, canceled_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        return None
    return seat_of(session, user)


def _sync_counter(session: TrainingSession) -> None:
    """The counter was changed in SQL; show the stored value on the loaded object."""
    db.session.refresh(session, ["seats_taken"])


def _lock_waitlist(session: TrainingSession) -> None:
    """Waitlist places of one session are handed out one at a time: the session's row lock (taken by every seat
    claim too), held until commit. Each place's time is read after the lock, so (waitlisted_at, id) orders the
    places as they were given, and a place counted right after its insert counts every place given before it
    (those transactions have committed). SQLite serialises writers anyway (FOR UPDATE is left out there)."""
    db.session.execute(select(TrainingSession.id).where(TrainingSession.id == session.id).with_for_update())


def _waitlist_row(session: TrainingSession, user, seat: Seat | None) -> Seat:
    _lock_waitlist(session)
    now = now_utc()
    if seat is None:
        try:
            with db.session.begin_nested():
                seat = Seat(session_id=session.id, user_id=user.id, status=WAITLISTED, waitlisted_at=now)
                db.session.add(seat)
            return seat
        except IntegrityError:
            seat = seat_of(session, user)
            assert seat is not None
            if seat.status in (CONFIRMED, WAITLISTED):
                return seat
    db.session.execute(
        update(Seat)
        .where(Seat.id == seat.id, Seat.status == CANCELED)
        .values(status=WAITLISTED, waitlisted_at=now, canceled_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return seat_of(session, user)  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------------ reserve / cancel
def reserve(session: TrainingSession, user, *, waitlist: bool = True, via: str = "reserve") -> Seat:
    """A confirmed seat if one is free; else a waitlist place (when `waitlist`), else Conflict `full`.

    `via` is passed on with the seat_taken / seat_waitlisted signals ("standing" for a standing booking's seats,
    confirmed once for the whole series rather than per date).

    Returns the person's Seat: its status says which happened. Holding a seat already changes nothing.
    """
    now = now_utc()
    reason = rules.reserve_refusal(session, user)
    if reason is not None:
        raise refusal_error(reason)
    seat = seat_of(session, user)
    if seat is not None and seat.status == CONFIRMED:
        return seat
    confirmed = claim_seat(session, user, now=now)
    if confirmed is not None:
        signals.seat_taken.send(session, seat=confirmed, via=via)
        db.session.flush()
        return confirmed
    if seat is not None and seat.status == WAITLISTED:
        return seat
    if not waitlist:
        raise refusal_error(Reason.FULL)
    seat = _waitlist_row(session, user, seat_of(session, user))
    db.session.flush()
    signals.seat_waitlisted.send(session, seat=seat, via=via)
    return seat


def cancel_seat(session: TrainingSession, user) -> Seat:
    """Give up a seat or a waitlist place. A released seat goes to the first person on the waitlist."""
    now = now_utc()
    seat = seat_of(session, user)
    attempt = rules.Attempt(session, user, seat.status if seat else None)
    reason = rules.first_refusal(rules.GIVING_UP, attempt)
    if reason is not None:
        raise refusal_error(reason, rules.explain(reason, attempt))
    assert seat is not None
    was_confirmed = seat.status == CONFIRMED
    changed = db.session.execute(
        update(Seat)
        .where(Seat.id == seat.id, Seat.status == seat.status)
        .values(status=CANCELED, canceled_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed == 1 and was_confirmed:
        _bump_counter(session, -1)
        promote_waitlist(session, now=now)
    _sync_counter(session)
    db.session.flush()
    canceled = seat_of(session, user)
    if changed == 1:
        signals.seat_given_up.send(session, seat=canceled, was=CONFIRMED if was_confirmed else WAITLISTED)
    return canceled  # type: ignore[return-value]


def promote_waitlist(session: TrainingSession, *, now: datetime | None = None) -> list[Seat]:
    """Fill free seats from the waitlist, earliest first (waitlisted_at, then id); tell each promoted person."""
    now = now or now_utc()
    promoted: list[Seat] = []
    while True:
        first = db.session.scalar(
            select(Seat)
            .where(Seat.session_id == session.id, Seat.status == WAITLISTED)
            .order_by(Seat.waitlisted_at, Seat.id)
            .limit(1)
            .execution_options(populate_existing=True)
        )
        if first is None or not _bump_counter(session, +1):
            break
        changed = db.session.execute(
            update(Seat)
            .where(Seat.id == first.id, Seat.status == WAITLISTED)
            .values(status=CONFIRMED, confirmed_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed != 1:  # someone else promoted or canceled it meanwhile
            _bump_counter(session, -1)
            continue
        db.session.refresh(first)
        promoted.append(first)
    _sync_counter(session)
    if promoted:
        signals.seats_promoted.send(session, seats=promoted)
    db.session.flush()
    return promoted


def release_all(session: TrainingSession) -> list[Seat]:
    """A canceled session releases every seat and waitlist place; returns the seats that were held."""
    now = now_utc()
    held = db.session.scalars(select(Seat).where(Seat.session_id == session.id, Seat.status != CANCELED)).all()
    for seat in held:
        seat.status = CANCELED
        seat.canceled_at = now
    db.session.execute(
        update(TrainingSession)
        .where(TrainingSession.id == session.id)
        .values(seats_taken=0)
        .execution_options(synchronize_session=False)
    )
    session.seats_taken = 0
    db.session.flush()
    return list(held)


# ------------------------------------------------------------------------------------------------ no-shows
NO_SHOW_RELEASE_AFTER = timedelta(minutes=5)  # SPEC "After the session": after the session went live


def release_no_shows(session: TrainingSession, *, now: datetime | None = None) -> list[Seat] | None:
    """Release the confirmed seats of people who have not joined a session live for NO_SHOW_RELEASE_AFTER (when its
    `release_no_shows` is on), promote the waitlist into them, and send seats_released (because "no_show").

    Once per session, however many workers try: the NoShowRelease row (keyed by the session) is the claim, and
    only the transaction whose insert wins goes on. Returns the released seats, or None when nothing was due
    (off, not live long enough, or released before). A seat is canceled only while its holder still has no
    attendance row (checked in the same UPDATE), so someone joining at that moment keeps theirs; a released person
    may still join later like anyone else, if a seat is free."""
    now = now or now_utc()
    if not rules_allow_release(session, now):
        return None
    if db.session.get(NoShowRelease, session.id) is not None:
        return None
    try:
        with db.session.begin_nested():
            db.session.execute(insert(NoShowRelease).values(session_id=session.id, released_at=now, seats_released=0))
    except IntegrityError:  # another worker released it meanwhile
        return None
    _lock_waitlist(session)  # seat claims and waitlist places of this session wait for the release
    joined = exists().where(Attendance.session_id == Seat.session_id, Attendance.user_id == Seat.user_id)
    candidates = db.session.scalars(
        select(Seat.id).where(Seat.session_id == session.id, Seat.status == CONFIRMED, ~joined).order_by(Seat.id)
    ).all()
    released_ids: list[int] = []
    for seat_id in candidates:
        changed = db.session.execute(
            update(Seat)
            .where(Seat.id == seat_id, Seat.status == CONFIRMED, ~joined)
            .values(status=CANCELED, canceled_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed == 1:
            _bump_counter(session, -1)
            released_ids.append(seat_id)
    db.session.execute(
        update(NoShowRelease)
        .where(NoShowRelease.session_id == session.id)
        .values(seats_released=len(released_ids))
        .execution_options(synchronize_session=False)
    )
    seats = list(
        db.session.scalars(
            select(Seat).where(Seat.id.in_(released_ids)).order_by(Seat.id).execution_options(populate_existing=True)
        )
    )
    _sync_counter(session)
    if seats:
        promote_waitlist(session, now=now)
        signals.seats_released.send(session, seats=seats, because="no_show")
    db.session.flush()
    return seats


def rules_allow_release(session: TrainingSession, now: datetime) -> bool:
    """The session releases its no-shows' seats now: the option is on, it is live, and went live long enough ago."""
    return (
        bool(session.release_no_shows)
        and session.status == SessionStatus.LIVE.value
        and session.started_at is not None
        and session.started_at <= now - NO_SHOW_RELEASE_AFTER
    )


# ------------------------------------------------------------------------------------------------ join
# Joining is two steps, each committed by the caller: `prepare_join` (eligibility and the seat: a short write that
# holds the session's row lock only for the counter update) and `admit` (the room and this person's token: calls
# to the provider, which must not run while other joiners wait on that lock). A provider outage in `admit` keeps
# the seat taken in `prepare_join`; trying again takes no second seat.
@dataclass(frozen=True)
class Admission:
    grant: JoinGrant
    attendance: Attendance | None  # None while the session waits for its instructor


def _require_eligible(
    session: TrainingSession, user, *, window: timedelta, now: datetime
) -> tuple[Eligibility, Seat | None]:
    """The person's eligibility and seat, or the refusal raised as a DomainError with its reason."""
    seat = seat_of(session, user)
    elig = rules.eligibility(session, user, seat_status=seat.status if seat else None, now=now, window=window)
    if not elig.can_join:
        raise join_refusal_error(elig)
    return elig, seat


def prepare_join(session: TrainingSession, user, *, window: timedelta) -> tuple[Eligibility, Seat | None]:
    """Re-check eligibility (raising its refusal) and take a free seat when the person needs one."""
    now = now_utc()
    elig, seat = _require_eligible(session, user, window=window, now=now)
    if elig.needs_seat:
        seat = claim_seat(session, user, now=now)
        if seat is None:  # the last seat went to someone else since the check
            raise refusal_error(Reason.FULL, extra={"reason": Reason.FULL.value})
        signals.seat_taken.send(session, seat=seat, via="join")
        db.session.flush()
    return elig, seat


def admit(session: TrainingSession, user, *, window: timedelta) -> Admission:
    """Ensure the room and issue `user`'s own token; a live session records that they joined.

    Eligibility is checked again (the session may have ended since `prepare_join` committed).
    """
    now = now_utc()
    elig, _seat = _require_eligible(session, user, window=window, now=now)
    if elig.needs_seat:
        raise refusal_error(Reason.SEAT_REQUIRED)
    rooms.ensure_room(session)
    grant = rooms.issue_join_grant(session, user)
    attendance = record_join(session, user, now) if session.status == SessionStatus.LIVE else None
    db.session.flush()
    return Admission(grant, attendance)


# ------------------------------------------------------------------------------------------------ attendance
def record_join(session: TrainingSession, user, at: datetime | None = None) -> Attendance:
    """The person entered the room. Repeated or stale events (already present, or older than their last leave)
    change nothing."""
    at = at or now_utc()
    row = _attendance_of(session, user)
    if row is None:
        try:
            with db.session.begin_nested():
                row = Attendance(
                    session_id=session.id,
                    user_id=user.id,
                    first_joined_at=at,
                    last_joined_at=at,
                    is_present=True,
                    watch_seconds=0,
                    join_count=1,
                )
                db.session.add(row)
            return row
        except IntegrityError:
            row = _attendance_of(session, user)
            assert row is not None
    if row.is_present or (row.last_left_at is not None and at < row.last_left_at):
        return row
    row.last_joined_at = at
    row.first_joined_at = min(row.first_joined_at, at)
    row.join_count += 1
    row.is_present = True
    db.session.flush()
    return row


def record_leave(session: TrainingSession, user, at: datetime | None = None) -> Attendance | None:
    """The person left. Repeated or stale leaves (not present, or older than their last join) change nothing."""
    at = at or now_utc()
    row = _attendance_of(session, user)
    if row is None or not row.is_present or at < row.last_joined_at:
        return row
    row.is_present = False
    row.last_left_at = at
    row.watch_seconds += rules.watch_seconds_between(row.last_joined_at, at)
    db.session.flush()
    return row


def close_attendance(session: TrainingSession, at: datetime | None = None) -> None:
    """The session ended: everyone still present has left now."""
    at = at or now_utc()
    present = db.session.scalars(
        select(Attendance).where(Attendance.session_id == session.id, Attendance.is_present.is_(True))
    ).all()
    for row in present:
        row.is_present = False
        row.last_left_at = at
        row.watch_seconds += rules.watch_seconds_between(row.last_joined_at, at)
    db.session.flush()


def _attendance_of(session: TrainingSession, user) -> Attendance | None:
    return db.session.scalar(
        select(Attendance).where(Attendance.session_id == session.id, Attendance.user_id == user.id)
    )
