"""Reads for notifications: who gets a session's reminders, which rows are due, and what the sweeps look at."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import func, or_, select

from portal.accounts.models import User
from portal.accounts.roles import Role
from portal.extensions import db
from portal.notifications.models import Notification, NotificationStatus
from portal.notifications.rules import REMINDER_PREFIX, send_backoff
from portal.seats.attendance import holds_seat
from portal.seats.models import Seat, SeatStatus
from portal.training.models import SessionAssistant, SessionStatus, TrainingSession


@dataclass(frozen=True)
class Recipient:
    user_id: int
    entitled_at: datetime  # since when they are owed reminders


def reminder_recipients_for(sessions: list[TrainingSession]) -> dict[int, list[Recipient]]:
    """Session id -> who gets its reminders: the instructor and every member holding a confirmed seat (the
    instructor takes no seat). One query for all the sessions."""
    recipients: dict[int, dict[int, Recipient]] = {
        s.id: {s.instructor_id: Recipient(s.instructor_id, s.created_at)} for s in sessions
    }
    if not recipients:
        return {}
    rows = db.session.execute(
        select(Seat.session_id, Seat.user_id, Seat.confirmed_at, Seat.created_at).where(
            Seat.session_id.in_(list(recipients)), Seat.status == SeatStatus.CONFIRMED.value
        )
    ).all()
    for session_id, user_id, confirmed_at, created_at in rows:
        recipients[session_id].setdefault(user_id, Recipient(user_id, confirmed_at or created_at))
    return {session_id: list(people.values()) for session_id, people in recipients.items()}


def seat_holder_ids(session_id: int) -> list[int]:
    """Who holds a place in the session: a confirmed seat or a waitlist place."""
    holding = (SeatStatus.CONFIRMED.value, SeatStatus.WAITLISTED.value)
    return list(
        db.session.scalars(select(Seat.user_id).where(Seat.session_id == session_id, Seat.status.in_(holding))).all()
    )


def holds_confirmed_seat(session_id: int, user_id: int) -> bool:
    return (
        db.session.scalar(
            select(Seat.id).where(
                Seat.session_id == session_id, Seat.user_id == user_id, Seat.status == SeatStatus.CONFIRMED.value
            )
        )
        is not None
    )


def confirmed_pairs(session_ids: set[int], user_ids: set[int] | None = None) -> set[tuple[int, int]]:
    """(session_id, user_id) of every confirmed seat in these sessions (of these people only, if given: a send
    batch of 100 reads 100 seats, not the 1,000 of its seminar), in one query."""
    if not session_ids or user_ids == set():
        return set()
    statement = select(Seat.session_id, Seat.user_id).where(
        Seat.session_id.in_(session_ids), Seat.status == SeatStatus.CONFIRMED.value
    )
    if user_ids is not None:
        statement = statement.where(Seat.user_id.in_(user_ids))
    return {(s, u) for s, u in db.session.execute(statement).all()}


def sessions_needing_plan(
    now: datetime, horizon: timedelta, channels: list[str], kinds: list[str]
) -> list[TrainingSession]:
    """Scheduled sessions starting within `horizon` where a recipient (the instructor, a confirmed seat holder)
    lacks one of its reminder rows on an enabled channel: what the sweep must plan. Every planned row exists
    already (planning writes them when a session is created or booked), so this is usually empty: each pair is
    probed on the unique (channel, key) index, no rows are loaded or re-inserted."""
    if not channels or not kinds:
        return []

    def missing(session_id, user_id):
        keys = [
            sa.literal(f"{kind}:") + sa.cast(session_id, sa.String) + ":" + sa.cast(user_id, sa.String)
            for kind in kinds
        ]
        return or_(
            *(
                ~sa.exists().where(Notification.channel == channel, Notification.key == key)
                for channel in channels
                for key in keys
            )
        )

    seat_missing = sa.exists().where(
        Seat.session_id == TrainingSession.id,
        Seat.status == SeatStatus.CONFIRMED.value,
        missing(Seat.session_id, Seat.user_id),
    )
    return list(
        db.session.scalars(
            select(TrainingSession).where(
                TrainingSession.status == SessionStatus.SCHEDULED.value,
                TrainingSession.start_time > now,
                TrainingSession.start_time <= now + horizon,
                or_(missing(TrainingSession.id, TrainingSession.instructor_id), seat_missing),
            )
        ).all()
    )


def pending_moments(after: datetime, until: datetime) -> list[datetime]:
    """The distinct moments of pending rows due in (after, until]: the dispatches the sweep schedules again."""
    return list(
        db.session.scalars(
            select(Notification.due_at)
            .where(
                Notification.status == NotificationStatus.PENDING.value,
                Notification.due_at > after,
                Notification.due_at <= until,
            )
            .distinct()
        ).all()
    )


def series_change_recipients(action: str, session_ids: list[int], at: datetime) -> list[int]:
    """Who is told of a change to several occurrences of a series: for a cancel, the people whose seats or waitlist
    places it released (canceled at or after `at`); for an edit, every confirmed and waitlisted holder."""
    if action == "canceled":
        which = (Seat.status == SeatStatus.CANCELED.value, Seat.canceled_at >= at)
    else:
        which = (Seat.status.in_((SeatStatus.CONFIRMED.value, SeatStatus.WAITLISTED.value)),)
    return list(
        db.session.scalars(
            select(Seat.user_id).where(Seat.session_id.in_(session_ids), *which).distinct().order_by(Seat.user_id)
        )
    )


def sessions_by_id(ids: set[int | None]) -> dict[int, TrainingSession]:
    """The sessions with these ids (None, a notice without a session, is ignored), in one query."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {s.id: s for s in db.session.scalars(select(TrainingSession).where(TrainingSession.id.in_(ids))).all()}


def pending_due(now: datetime) -> list[Notification]:
    """Pending rows whose moment has come, oldest first."""
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.status == NotificationStatus.PENDING.value, Notification.due_at <= now)
            .order_by(Notification.due_at, Notification.id)
        ).all()
    )


def ready_to_try(row: Notification, now: datetime) -> bool:
    """A row that failed before waits out its backoff."""
    return row.attempts == 0 or row.claimed_at is None or row.claimed_at + send_backoff(row.attempts) <= now


def stale_claims(now: datetime, older_than: timedelta) -> list[int]:
    return list(
        db.session.scalars(
            select(Notification.id).where(
                Notification.status == NotificationStatus.SENDING.value,
                or_(Notification.claimed_at.is_(None), Notification.claimed_at < now - older_than),
            )
        ).all()
    )


def retimable_reminders(session_ids: list[int]) -> list[sa.Row]:
    """(id, channel, key, due_at) of these sessions' reminders that planning may re-time: pending, skipped, and
    sent (after a reschedule, a reminder sent for the old time is due again for the new one). Not those being
    sent or given up. Plain rows, not ORM objects: the every-minute sweep reads thousands and re-times almost
    none."""
    if not session_ids:
        return []
    retimable = [NotificationStatus.PENDING.value, NotificationStatus.SKIPPED.value, NotificationStatus.SENT.value]
    return list(
        db.session.execute(
            select(Notification.id, Notification.channel, Notification.key, Notification.due_at).where(
                Notification.session_id.in_(session_ids),
                Notification.kind.startswith(REMINDER_PREFIX, autoescape=True),
                Notification.status.in_(retimable),
            )
        ).all()
    )


def counts_by_status() -> dict[str, int]:
    rows = db.session.execute(select(Notification.status, func.count()).group_by(Notification.status)).all()
    return dict(rows)


def confirmed_holder_ids(session_id: int) -> list[int]:
    """The session's seat holders, no-shows included (seats.attendance.holds_seat: also those whose seat was
    released because they had not come), as SPEC says for "recording ready"."""
    return list(
        db.session.scalars(
            select(Seat.user_id).where(Seat.session_id == session_id, holds_seat()).distinct().order_by(Seat.user_id)
        ).all()
    )


def instructor_ids(session: TrainingSession) -> list[int]:
    """The session's instructors: its lead and its assistants."""
    assistants = db.session.scalars(
        select(SessionAssistant.user_id).where(SessionAssistant.session_id == session.id)
    ).all()
    return sorted({session.instructor_id, *assistants})


def board_member_ids() -> list[int]:
    """The board: every active person with the board_member role."""
    return list(
        db.session.scalars(
            select(User.id).where(User.role == Role.BOARD_MEMBER.value, User.is_active.is_(True)).order_by(User.id)
        ).all()
    )


def sent_for_moment(key: str, due_at: datetime) -> bool:
    """Whether the row of this key (on any channel) was sent at this moment (a reminder for this start time)."""
    return (
        db.session.scalar(
            select(Notification.id).where(
                Notification.key == key,
                Notification.due_at == due_at,
                Notification.status.in_((NotificationStatus.SENT.value, NotificationStatus.SENDING.value)),
            )
        )
        is not None
    )
