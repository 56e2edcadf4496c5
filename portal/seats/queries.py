"""Reads for seats, the join panel, attendance and a member's schedule.

`join_panels` answers for any number of sessions in a fixed number of queries (the viewer's seats and the
waitlist counts, each one grouped query), so a page of panels, and one poll of a panel, stay cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from portal.config import current_settings
from portal.core.clock import now_utc
from portal.extensions import db
from portal.seats import rules
from portal.seats.models import Attendance, Seat, SeatStatus
from portal.seats.rules import Eligibility, SeatAction
from portal.training.models import FINAL_STATUSES, TrainingSession


@dataclass(frozen=True)
class JoinPanel:
    session: TrainingSession
    eligibility: Eligibility
    seat_status: str | None  # the viewer's seat: confirmed, waitlisted, canceled or None
    seat_action: SeatAction | None  # the one seat button offered
    waitlist_count: int
    now: datetime

    @property
    def seconds_until_start(self) -> int:
        return max(int((self.session.start_time - self.now).total_seconds()), 0)


def join_panels(sessions: Sequence[TrainingSession], viewer, *, with_waitlist: bool = True) -> dict[int, JoinPanel]:
    """One join panel per session for `viewer` (a User or the anonymous user), in at most two queries.

    `with_waitlist=False` skips counting waitlists (every `waitlist_count` is 0), for callers that never show it.
    """
    window = current_settings().join_window
    now = now_utc()
    ids = [s.id for s in sessions]
    seats = viewer_seat_statuses(ids, viewer)
    waiting = waitlist_counts(ids) if with_waitlist else {}
    panels = {}
    for session in sessions:
        status = seats.get(session.id)
        panels[session.id] = JoinPanel(
            session=session,
            eligibility=rules.eligibility(session, viewer, seat_status=status, now=now, window=window),
            seat_status=status,
            seat_action=rules.seat_action(session, viewer, seat_status=status),
            waitlist_count=waiting.get(session.id, 0),
            now=now,
        )
    return panels


def viewer_seat_statuses(session_ids: Sequence[int], viewer) -> dict[int, str]:
    if not session_ids or not getattr(viewer, "is_authenticated", False):
        return {}
    rows = db.session.execute(
        select(Seat.session_id, Seat.status).where(Seat.user_id == viewer.id, Seat.session_id.in_(session_ids))
    )
    return {row.session_id: row.status for row in rows}


def waitlist_counts(session_ids: Sequence[int]) -> dict[int, int]:
    if not session_ids:
        return {}
    rows = db.session.execute(
        select(Seat.session_id, func.count())
        .where(Seat.session_id.in_(session_ids), Seat.status == SeatStatus.WAITLISTED.value)
        .group_by(Seat.session_id)
    )
    return {session_id: int(count) for session_id, count in rows}


def waitlist_position(session: TrainingSession, user) -> int | None:
    """1 for the first on the waitlist; None if the person is not on it."""
    seat = db.session.scalar(
        select(Seat).where(
            Seat.session_id == session.id, Seat.user_id == user.id, Seat.status == SeatStatus.WAITLISTED.value
        )
    )
    if seat is None:
        return None
    ahead = db.session.scalar(
        select(func.count())
        .select_from(Seat)
        .where(
            Seat.session_id == session.id,
            Seat.status == SeatStatus.WAITLISTED.value,
            (Seat.waitlisted_at < seat.waitlisted_at)
            | ((Seat.waitlisted_at == seat.waitlisted_at) & (Seat.id < seat.id)),
        )
    )
    return (ahead or 0) + 1


# ------------------------------------------------------------------------------------------------ attendance
def has_joined(session: TrainingSession, user) -> bool:
    """`user` entered the session's room at least once."""
    return (
        db.session.scalar(
            select(Attendance.id).where(Attendance.session_id == session.id, Attendance.user_id == user.id)
        )
        is not None
    )


def present_in_room(session: TrainingSession) -> list[Attendance]:
    """Who is in the room now, longest there first."""
    return list(
        db.session.scalars(
            select(Attendance)
            .where(Attendance.session_id == session.id, Attendance.is_present.is_(True))
            .order_by(Attendance.last_joined_at, Attendance.id)
        )
    )


@dataclass(frozen=True)
class AttendanceRow:
    name: str
    email: str
    first_joined_at: datetime
    last_left_at: datetime | None
    watch_seconds: int  # including the current visit of someone still present
    join_count: int
    is_present: bool


def attendance_rows(session: TrainingSession) -> list[AttendanceRow]:
    """Everyone who joined, earliest first (one query)."""
    now = now_utc()
    rows = db.session.scalars(
        select(Attendance)
        .where(Attendance.session_id == session.id)
        .order_by(Attendance.first_joined_at, Attendance.id)
    ).all()
    return [
        AttendanceRow(
            name=row.user.name,
            email=row.user.email,
            first_joined_at=row.first_joined_at,
            last_left_at=row.last_left_at,
            watch_seconds=row.watch_seconds
            + (rules.watch_seconds_between(row.last_joined_at, now) if row.is_present else 0),
            join_count=row.join_count,
            is_present=row.is_present,
        )
        for row in rows
    ]


# ------------------------------------------------------------------------------------------------ my schedule
@dataclass(frozen=True)
class ScheduleEntry:
    session: TrainingSession
    seat_status: str


def my_schedule(user) -> list[ScheduleEntry]:
    """The sessions `user` holds a seat or a waitlist place in that are not over yet, soonest first."""
    rows = db.session.execute(
        select(TrainingSession, Seat.status)
        .join(Seat, Seat.session_id == TrainingSession.id)
        .where(
            Seat.user_id == user.id,
            Seat.status.in_((SeatStatus.CONFIRMED.value, SeatStatus.WAITLISTED.value)),
            TrainingSession.status.not_in(FINAL_STATUSES),
            TrainingSession.archived_at.is_(None),
        )
        .order_by(TrainingSession.start_time, TrainingSession.id)
    ).all()
    return [ScheduleEntry(session, status) for session, status in rows]
