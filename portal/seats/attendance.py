"""Attendance of a session (SPEC "After the session"): everyone who joined, and every seat holder who never did,
marked `no_show`; the table on the session page and the CSV read these rows.

Who may see it is portal.training.rules.can_see_attendance (the views ask it).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, or_, select

from portal.accounts.models import User
from portal.core.clock import now_utc
from portal.core.text import spreadsheet_safe
from portal.extensions import db
from portal.seats import rules
from portal.seats.models import Attendance, Seat, SeatStatus
from portal.seats.no_show_models import NoShowRelease
from portal.training.models import SessionStatus, TrainingSession

ATTENDED, NO_SHOW, EXPECTED = "attended", "no_show", "expected"  # AttendanceRow.status


@dataclass(frozen=True)
class AttendanceRow:
    """One person of a session's attendance: someone who joined (`attended`), or a seat holder who never did
    (`no_show` once the session went live; `expected` before that). A no-show has no join times, 0 minutes and 0
    joins. A seat released as a no-show's (operations.release_no_shows) still counts as held here."""

    user_id: int
    name: str
    email: str
    status: str
    first_joined_at: datetime | None
    last_left_at: datetime | None
    watch_seconds: int  # including the current visit of someone still present
    join_count: int
    is_present: bool

    @property
    def minutes(self) -> int:
        return self.watch_seconds // 60

    @property
    def is_no_show(self) -> bool:
        return self.status == NO_SHOW


def attendance_rows(session: TrainingSession) -> list[AttendanceRow]:
    """Everyone who joined, earliest first; then every seat holder who never joined, by name (two queries).

    Seat holders are the confirmed seats, and the seats released because their holders had not come (canceled at
    the moment of the session's NoShowRelease and not taken again since)."""
    now = now_utc()
    joined = db.session.scalars(
        select(Attendance)
        .where(Attendance.session_id == session.id)
        .order_by(Attendance.first_joined_at, Attendance.id)
    ).all()
    rows = [
        AttendanceRow(
            user_id=row.user_id,
            name=row.user.name,
            email=row.user.email,
            status=ATTENDED,
            first_joined_at=row.first_joined_at,
            last_left_at=row.last_left_at,
            watch_seconds=row.watch_seconds
            + (rules.watch_seconds_between(row.last_joined_at, now) if row.is_present else 0),
            join_count=row.join_count,
            is_present=row.is_present,
        )
        for row in joined
    ]
    absent = NO_SHOW if _has_started(session) else EXPECTED
    rows += [
        AttendanceRow(
            user_id=user.id,
            name=user.name,
            email=user.email,
            status=absent,
            first_joined_at=None,
            last_left_at=None,
            watch_seconds=0,
            join_count=0,
            is_present=False,
        )
        for user in _absent_seat_holders(session)
    ]
    return rows


def _has_started(session: TrainingSession) -> bool:
    return session.started_at is not None or session.status in (SessionStatus.LIVE.value, SessionStatus.ENDED.value)


def holds_seat() -> ColumnElement[bool]:
    """THE rule "a seat holder of the session", no-shows included, as SQL on Seat: a confirmed seat, or a seat
    released because its holder had not come (canceled at the moment of the session's NoShowRelease, not taken
    again since). The attendance lists them; "recording ready" is sent to them."""
    released = select(NoShowRelease.released_at).where(NoShowRelease.session_id == Seat.session_id).scalar_subquery()
    return or_(
        Seat.status == SeatStatus.CONFIRMED.value,
        and_(Seat.status == SeatStatus.CANCELED.value, Seat.canceled_at == released),
    )


def _absent_seat_holders(session: TrainingSession) -> list[User]:
    """The seat holders of `session` with no attendance row, by name (one query)."""
    never_joined = ~exists().where(Attendance.session_id == Seat.session_id, Attendance.user_id == Seat.user_id)
    return list(
        db.session.scalars(
            select(User)
            .join(Seat, Seat.user_id == User.id)
            .where(Seat.session_id == session.id, holds_seat(), never_joined)
            .order_by(User.name, User.id)
        )
    )


# ------------------------------------------------------------------------------------------------ CSV
CSV_HEADER = (
    "name", "email", "first_joined_at", "last_left_at", "watch_seconds", "watch_time", "joins", "minutes", "status",
)  # fmt: skip


def attendance_csv(rows: list[AttendanceRow]) -> str:
    """The rows as CSV: times in ISO 8601 UTC (date and time), text cells defused (core.text.spreadsheet_safe)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow(
            [
                spreadsheet_safe(row.name),
                spreadsheet_safe(row.email),
                row.first_joined_at.isoformat() if row.first_joined_at else "",
                row.last_left_at.isoformat() if row.last_left_at else "",
                row.watch_seconds,
                hms(row.watch_seconds),
                row.join_count,
                row.minutes,
                row.status,
            ]
        )
    return out.getvalue()


def hms(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
