"""Who may join a session now, reserve a seat in it or give one up, and what the join panel offers: pure functions
of plain values and `now`.

One ladder of checks answers all three. `JOINING` is SPEC "Joining" (checks 1-6, in its order); `RESERVING` shares
its checks 1-4 and adds its own two; `GIVING_UP` is what a seat or waitlist place needs to be released. Each check
refuses with one `Reason`, and each reason has one message, so the can-join API, the join panel, the join
endpoints, the seat buttons and the seat endpoints can never disagree about why.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l

from portal.accounts.roles import Role, has_role
from portal.core.i18n import fill, in_english
from portal.core.timezones import format_duration
from portal.seats.models import SeatStatus
from portal.training.models import SessionStatus
from portal.training.rules import (
    TOO_EARLY_TO_START,
    can_start,
    can_view,
    is_instructor_of,
    start_refusal,
    start_settings,
)

POLL_FAR_SECONDS = 60  # the window is more than 15 minutes away
POLL_NEAR_SECONDS = 10  # within 15 minutes of the window (and while live)
POLL_IMMINENT_SECONDS = 2  # the last minute before the window, and while waiting for the instructor
NEAR = timedelta(minutes=15)
IMMINENT = timedelta(minutes=1)


class Reason(StrEnum):
    """Why someone may not join, reserve or give up a seat: the reason code clients see, in ladder order."""

    NOT_FOUND = "not_found"
    CANCELED = "canceled"
    ENDED = "ended"
    LOGIN_REQUIRED = "login_required"
    MEMBERS_ONLY = "members_only"
    TOO_EARLY = "too_early"  # joining
    FULL = "full"
    MEMBERS_REQUIRED = "members_required"  # reserving
    SEAT_NOT_NEEDED = "seat_not_needed"
    SEAT_REQUIRED = "seat_required"  # entering the room without the seat the first step of joining took
    WRONG_STATE = "wrong_state"  # giving up a seat
    NO_SEAT = "no_seat"


MESSAGES = {
    Reason.NOT_FOUND: _l("This session does not exist, or you may not see it."),
    Reason.CANCELED: _l("This session was canceled."),
    Reason.ENDED: _l("This session has ended."),
    Reason.LOGIN_REQUIRED: _l("Sign in to join this session."),
    Reason.MEMBERS_ONLY: _l("This session is for members only."),
    Reason.TOO_EARLY: _l("Joining opens in %(opens_in)s."),
    Reason.FULL: _l("This session is full. You can join the waitlist."),
    Reason.MEMBERS_REQUIRED: _l("Reserving seats is for members."),
    Reason.SEAT_NOT_NEEDED: _l("You host this session; hosts join without a seat."),
    Reason.SEAT_REQUIRED: _l("Take a seat first."),
    Reason.WRONG_STATE: _l("This session is %(status)s; its seats can no longer change."),
    Reason.NO_SEAT: _l("You hold no seat or waitlist place in this session."),
}


# ------------------------------------------------------------------------------------------------ the ladder
@dataclass(frozen=True)
class Attempt:
    """What the checks look at: one person (a User, the anonymous user or None) and one session (None if there is
    none) at one moment."""

    session: Any
    person: Any
    seat_status: str | None = None  # the person's Seat.status for the session; None without a seat row
    seconds_until_open: int = 0  # until the join window opens; 0 once open (reserving never looks)

    @property
    def is_host(self) -> bool:
        return is_host(self.session, self.person)

    @property
    def holds_seat(self) -> bool:
        return self.seat_status == SeatStatus.CONFIRMED


Check = Callable[[Attempt], Reason | None]


def _visible(a: Attempt) -> Reason | None:
    return None if a.session is not None and can_view(a.session, a.person) else Reason.NOT_FOUND


def _not_canceled(a: Attempt) -> Reason | None:
    return Reason.CANCELED if a.session.status == SessionStatus.CANCELED else None


def _not_ended(a: Attempt) -> Reason | None:
    return Reason.ENDED if a.session.status == SessionStatus.ENDED else None


def _signed_in(a: Attempt) -> Reason | None:
    return None if is_signed_in(a.person) else Reason.LOGIN_REQUIRED


def _member_if_members_only(a: Attempt) -> Reason | None:
    return Reason.MEMBERS_ONLY if a.session.members_only and not has_role(a.person, Role.MEMBER) else None


def _window_open(a: Attempt) -> Reason | None:
    """SPEC "Joining" check 5, for `scheduled` sessions only: a live session is open to everyone who passes the other
    checks, however early it was started. Hosts may enter before the window."""
    if a.session.status != SessionStatus.SCHEDULED:
        return None
    return Reason.TOO_EARLY if a.seconds_until_open > 0 and not a.is_host else None


def _seat_free(a: Attempt) -> Reason | None:
    """A seat they hold, or a free one to take now. Hosts need none."""
    if a.is_host or a.holds_seat or a.session.capacity is None:
        return None
    return Reason.FULL if a.session.seats_taken >= a.session.capacity else None


def _member_for_seats(a: Attempt) -> Reason | None:
    return None if has_role(a.person, Role.MEMBER) else Reason.MEMBERS_REQUIRED


def _not_host(a: Attempt) -> Reason | None:
    return Reason.SEAT_NOT_NEEDED if a.is_host else None


def _seats_still_change(a: Attempt) -> Reason | None:
    return Reason.WRONG_STATE if SessionStatus(a.session.status).is_final else None


def _holds_a_place(a: Attempt) -> Reason | None:
    return None if a.seat_status in (SeatStatus.CONFIRMED, SeatStatus.WAITLISTED) else Reason.NO_SEAT


# SPEC "Joining" checks 1-4 (check 2 is two: canceled, then ended), where joining and reserving agree.
OPEN_TO_THEM: tuple[Check, ...] = (_visible, _not_canceled, _not_ended, _signed_in, _member_if_members_only)
JOINING: tuple[Check, ...] = (*OPEN_TO_THEM, _window_open, _seat_free)  # SPEC "Joining" 1-6
RESERVING: tuple[Check, ...] = (*OPEN_TO_THEM, _member_for_seats, _not_host)  # 1-4, then seats are for members
GIVING_UP: tuple[Check, ...] = (_seats_still_change, _holds_a_place)


def first_refusal(ladder: tuple[Check, ...], attempt: Attempt) -> Reason | None:
    """The reason of the first check of `ladder` that refuses `attempt`; None when every check passes."""
    for check in ladder:
        reason = check(attempt)
        if reason is not None:
            return reason
    return None


def explain(reason: Reason, attempt: Attempt | None = None) -> str:
    """The one message of `reason`, with what it names filled in (the time until the window opens, the status)."""
    status = attempt.session.status if attempt is not None and attempt.session is not None else ""
    opens_in = format_duration(attempt.seconds_until_open if attempt is not None else 0)
    return fill(MESSAGES[reason], opens_in=opens_in, status=status)


def reserve_refusal(session, person) -> Reason | None:
    """Why `person` may not reserve a seat or a waitlist place in `session` (None: they may)."""
    return first_refusal(RESERVING, Attempt(session, person))


def is_signed_in(person) -> bool:
    return bool(getattr(person, "is_authenticated", False))


def is_host(session, person) -> bool:
    """One of the session's instructors (lead or assistant: training.rules.is_instructor_of), or an admin: never
    needs a seat and may enter before the window."""
    if session is None or not is_signed_in(person):
        return False
    return has_role(person, Role.ADMIN) or is_instructor_of(session, person)


# ------------------------------------------------------------------------------------------------ joining
@dataclass(frozen=True)
class Eligibility:
    can_join: bool
    reason: Reason | None  # None when can_join
    message: str
    status: str | None  # the session's status (None when not found)
    opens_at: datetime | None  # start_time - join window
    seconds_until_open: int  # 0 once open
    seats_taken: int
    capacity: int | None
    poll_seconds: int | None  # the panel's next poll; None: the session is final, polling stops
    is_host: bool = False  # the session's instructor or an admin: passes the window and the seat checks
    holds_seat: bool = False  # a confirmed seat
    is_waitlisted: bool = False
    needs_seat: bool = False  # may join, and joining takes a free seat for them now
    is_waiting: bool = False  # may join, but the instructor has not started yet
    # The Start button the panel shows this person (the start rule of portal.training.rules, with its role and state
    # checks): None, not theirs to start; "early" (disabled, opens at `opens_at`), "open", or "late".
    start_stage: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["opens_at"] = self.opens_at.isoformat() if self.opens_at else None
        data["message"] = in_english(self.message)  # the API's messages stay English (pages show them translated)
        return data


_NOT_FOUND = Eligibility(False, Reason.NOT_FOUND, MESSAGES[Reason.NOT_FOUND], None, None, 0, 0, None, None)


def poll_seconds(status: str | None, opens_at: datetime | None, now: datetime) -> int | None:
    """How soon the panel asks again: 60 s far out, 10 s within 15 min, 2 s in the last minute and while waiting."""
    if status is None or SessionStatus(status).is_final:
        return None
    if status == SessionStatus.LIVE:
        return POLL_NEAR_SECONDS
    assert opens_at is not None
    to_go = opens_at - now
    if to_go <= timedelta(0):
        return POLL_IMMINENT_SECONDS
    if to_go <= IMMINENT:
        return POLL_IMMINENT_SECONDS
    if to_go <= NEAR:
        return POLL_NEAR_SECONDS
    return POLL_FAR_SECONDS


def start_stage(session, person, now: datetime, *, window: timedelta, grace: timedelta | None = None) -> str | None:
    """The panel's Start button for `person`: None (not theirs to start now or ever), "early", "open" or "late"."""
    if session.status != SessionStatus.SCHEDULED or not can_start(session, person):
        return None
    if grace is None:
        grace = start_settings()["grace"]
    refusal = start_refusal(session, now, join_window=window, grace=grace)
    return "open" if refusal is None else "early" if refusal == TOO_EARLY_TO_START else "late"


def eligibility(
    session, person, *, seat_status: str | None, now: datetime, window: timedelta, grace: timedelta | None = None
) -> Eligibility:
    """May `person` (a User, the anonymous user or None) join `session` (or None) at `now`? The JOINING ladder.

    `seat_status`: the person's Seat.status for this session (None if they have no seat row). `grace`: the
    auto-end grace, for the Start button (AUTO_END_GRACE_MINUTES when None).
    """
    if session is None:
        return _NOT_FOUND
    opens_at = session.start_time - window
    # the window (check 5) is for scheduled sessions only: a live one is open now, however early it was started
    to_open = max(math.ceil((opens_at - now).total_seconds()), 0) if session.status == SessionStatus.SCHEDULED else 0
    attempt = Attempt(session, person, seat_status, to_open)
    reason = first_refusal(JOINING, attempt)
    if reason == Reason.NOT_FOUND:
        return _NOT_FOUND  # nothing about a session they may not see
    host = attempt.is_host
    base = {
        "status": session.status,
        "opens_at": opens_at,
        "seconds_until_open": attempt.seconds_until_open,
        "seats_taken": session.seats_taken,
        "capacity": session.capacity,
        "poll_seconds": poll_seconds(session.status, opens_at, now),
        "is_host": host,
        "holds_seat": attempt.holds_seat,
        "is_waitlisted": seat_status == SeatStatus.WAITLISTED,
        "start_stage": start_stage(session, person, now, window=window, grace=grace),
    }
    if reason is not None:
        return Eligibility(False, reason, explain(reason, attempt), **base)
    waiting = session.status == SessionStatus.SCHEDULED
    message = _l("Waiting for the instructor to start.") if waiting else _l("The session is live. Join now.")
    return Eligibility(True, None, message, needs_seat=not host and not attempt.holds_seat, is_waiting=waiting, **base)


# ------------------------------------------------------------------------------------------------ seats
class SeatAction(StrEnum):
    RESERVE = "reserve"
    WAITLIST = "waitlist"
    CANCEL = "cancel"
    LEAVE_WAITLIST = "leave_waitlist"

    @property
    def gives_up(self) -> bool:
        """Cancel a seat or leave the waitlist: the button posts to the cancel endpoint."""
        return self in (SeatAction.CANCEL, SeatAction.LEAVE_WAITLIST)


def seat_action(session, person, *, seat_status: str | None) -> SeatAction | None:
    """The one seat button the panel shows this person, if any: none where reserving is refused."""
    if reserve_refusal(session, person) is not None:
        return None
    if seat_status == SeatStatus.CONFIRMED:
        return SeatAction.CANCEL
    if seat_status == SeatStatus.WAITLISTED:
        return SeatAction.LEAVE_WAITLIST
    if session.capacity is None or session.seats_taken < session.capacity:
        return SeatAction.RESERVE
    return SeatAction.WAITLIST


def watch_seconds_between(joined_at: datetime, left_at: datetime) -> int:
    return max(int((left_at - joined_at).total_seconds()), 0)
