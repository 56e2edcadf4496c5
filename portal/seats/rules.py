"""Who may join a session now, and what the join panel offers: pure functions of plain values and `now`.

`eligibility()` is the ONE answer to "may this person join this session now?". The can-join API, the join
panel, the join endpoints and the join page all call it, so they can never disagree.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from portal.accounts.roles import Role, has_role
from portal.core.timezones import format_duration
from portal.seats.models import SeatStatus
from portal.training.models import SessionStatus
from portal.training.rules import can_view

POLL_FAR_SECONDS = 60  # the window is more than 15 minutes away
POLL_NEAR_SECONDS = 10  # within 15 minutes of the window (and while live)
POLL_IMMINENT_SECONDS = 2  # the last minute before the window, and while waiting for the instructor
NEAR = timedelta(minutes=15)
IMMINENT = timedelta(minutes=1)


class Reason(StrEnum):
    """Why someone may not join, in the order the checks run (SPEC "Joining")."""

    NOT_FOUND = "not_found"
    CANCELED = "canceled"
    ENDED = "ended"
    LOGIN_REQUIRED = "login_required"
    MEMBERS_ONLY = "members_only"
    TOO_EARLY = "too_early"
    FULL = "full"


MESSAGES = {
    Reason.NOT_FOUND: "This session does not exist, or you may not see it.",
    Reason.CANCELED: "This session was canceled.",
    Reason.ENDED: "This session has ended.",
    Reason.LOGIN_REQUIRED: "Sign in to join this session.",
    Reason.MEMBERS_ONLY: "This session is for members only.",
    Reason.FULL: "This session is full. You can join the waitlist.",
}


@dataclass(frozen=True)
class Eligibility:
    can_join: bool
    reason: str | None  # a Reason value, None when can_join
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

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["opens_at"] = self.opens_at.isoformat() if self.opens_at else None
        return data


def is_host(session, person) -> bool:
    """The session's own instructor, or an admin: never needs a seat and may enter before the window."""
    if not getattr(person, "is_authenticated", False):
        return False
    return session.instructor_id == person.id or has_role(person, Role.ADMIN)


def poll_seconds(status: str | None, opens_at: datetime | None, now: datetime) -> int | None:
    """How soon the panel asks again: 60 s far out, 10 s within 15 min, 2 s in the last minute and while waiting."""
    if status is None or status in (SessionStatus.ENDED, SessionStatus.CANCELED):
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


def eligibility(session, person, *, seat_status: str | None, now: datetime, window: timedelta) -> Eligibility:
    """May `person` (a User, the anonymous user or None) join `session` (or None) at `now`?

    `seat_status`: the person's Seat.status for this session (None if they have no seat row).
    """
    if session is None or not can_view(session, person):
        return Eligibility(False, Reason.NOT_FOUND.value, MESSAGES[Reason.NOT_FOUND], None, None, 0, 0, None, None)
    opens_at = session.start_time - window
    seconds = max(math.ceil((opens_at - now).total_seconds()), 0)
    host = is_host(session, person)
    holds = seat_status == SeatStatus.CONFIRMED.value
    base = {
        "status": session.status,
        "opens_at": opens_at,
        "seconds_until_open": seconds,
        "seats_taken": session.seats_taken,
        "capacity": session.capacity,
        "poll_seconds": poll_seconds(session.status, opens_at, now),
        "is_host": host,
        "holds_seat": holds,
        "is_waitlisted": seat_status == SeatStatus.WAITLISTED.value,
    }
    reason = _refusal(session, person, host=host, holds=holds, seconds=seconds)
    if reason is not None:
        return Eligibility(False, reason.value, _message(reason, seconds), **base)
    waiting = session.status == SessionStatus.SCHEDULED
    message = "Waiting for the instructor to start." if waiting else "The session is live. Join now."
    return Eligibility(True, None, message, needs_seat=not host and not holds, is_waiting=waiting, **base)


def _refusal(session, person, *, host: bool, holds: bool, seconds: int) -> Reason | None:
    if session.status == SessionStatus.CANCELED:
        return Reason.CANCELED
    if session.status == SessionStatus.ENDED:
        return Reason.ENDED
    if not getattr(person, "is_authenticated", False):
        return Reason.LOGIN_REQUIRED
    if session.members_only and not has_role(person, Role.MEMBER):
        return Reason.MEMBERS_ONLY
    if host:
        return None
    if seconds > 0:
        return Reason.TOO_EARLY
    if not holds and session.capacity is not None and session.seats_taken >= session.capacity:
        return Reason.FULL
    return None


def _message(reason: Reason, seconds: int) -> str:
    if reason == Reason.TOO_EARLY:
        return f"Joining opens in {format_duration(seconds)}."
    return MESSAGES[reason]


# ------------------------------------------------------------------------------------------------ seats
class SeatAction(StrEnum):
    RESERVE = "reserve"
    WAITLIST = "waitlist"
    CANCEL = "cancel"
    LEAVE_WAITLIST = "leave_waitlist"


def seat_action(session, person, *, seat_status: str | None) -> SeatAction | None:
    """The one seat button the panel shows this person, if any: none where reserving is refused."""
    if reserve_refusal(session, person)[0] is not None:
        return None
    if seat_status == SeatStatus.CONFIRMED.value:
        return SeatAction.CANCEL
    if seat_status == SeatStatus.WAITLISTED.value:
        return SeatAction.LEAVE_WAITLIST
    if session.capacity is None or session.seats_taken < session.capacity:
        return SeatAction.RESERVE
    return SeatAction.WAITLIST


def reserve_refusal(session, person) -> tuple[str | None, str | None]:
    """Why `person` may not reserve a seat or a waitlist place (checks 1-4 of joining, plus the member role)."""
    if session is None or not can_view(session, person):
        return Reason.NOT_FOUND.value, MESSAGES[Reason.NOT_FOUND]
    if session.status == SessionStatus.CANCELED:
        return Reason.CANCELED.value, MESSAGES[Reason.CANCELED]
    if session.status == SessionStatus.ENDED:
        return Reason.ENDED.value, MESSAGES[Reason.ENDED]
    if not getattr(person, "is_authenticated", False):
        return Reason.LOGIN_REQUIRED.value, "Sign in to reserve a seat."
    if not has_role(person, Role.MEMBER):
        return "members_required", "Reserving seats is for members."
    if is_host(session, person):
        return "seat_not_needed", "You host this session; hosts join without a seat."
    return None, None


def watch_seconds_between(joined_at: datetime, left_at: datetime) -> int:
    return max(int((left_at - joined_at).total_seconds()), 0)
