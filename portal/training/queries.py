"""Reads of training sessions, always filtered by what the viewer may see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import select

from portal.core.errors import NotFound
from portal.core.validation import is_id
from portal.extensions import db
from portal.training import rules
from portal.training.models import FINAL_STATUSES, RoomStatus, SessionStatus, TrainingSession

SORT_COLUMNS = {
    "start_time": TrainingSession.start_time,
    "created_at": TrainingSession.created_at,
    "title": TrainingSession.title,
}
SORT_ORDERS = ("asc", "desc")


@dataclass(frozen=True)
class SessionFilters:
    status: str | None = None
    instructor_id: int | None = None
    event_id: int | None = None
    upcoming: bool = False
    include_archived: bool = False
    sort_by: str = "start_time"
    sort_order: str = "asc"


@dataclass(frozen=True)
class Page:
    items: list[TrainingSession]
    total: int
    limit: int
    offset: int


def visible_to(viewer) -> sa.ColumnElement[bool]:
    """The WHERE clause for sessions `viewer` may see (rules.can_view, as SQL)."""
    if rules.can_view_all(viewer):
        return sa.true()
    return TrainingSession.is_public.is_(True)


def get_visible(session_id: int, viewer) -> TrainingSession:
    """The session, or NotFound when it does not exist or the viewer may not see it (no hint which)."""
    session = db.session.get(TrainingSession, session_id) if is_id(session_id) else None
    if session is None or not rules.can_view(session, viewer):
        raise NotFound(rules.NOT_FOUND_MESSAGE)
    return session


def list_sessions(viewer, filters: SessionFilters, *, limit: int, offset: int, now: datetime) -> Page:
    stmt = select(TrainingSession).where(visible_to(viewer))
    if filters.status:
        stmt = stmt.where(TrainingSession.status == filters.status)
    if filters.instructor_id is not None:
        stmt = stmt.where(TrainingSession.instructor_id == filters.instructor_id)
    if filters.event_id is not None:
        stmt = stmt.where(TrainingSession.event_id == filters.event_id)
    if filters.upcoming:
        stmt = stmt.where(TrainingSession.status == SessionStatus.SCHEDULED.value, TrainingSession.start_time > now)
    if not filters.include_archived:
        stmt = stmt.where(TrainingSession.archived_at.is_(None))
    total = db.session.scalar(select(sa.func.count()).select_from(stmt.subquery())) or 0
    column = SORT_COLUMNS[filters.sort_by]
    order = column.asc() if filters.sort_order == "asc" else column.desc()
    items = db.session.scalars(stmt.order_by(order, TrainingSession.id).limit(limit).offset(offset)).unique().all()
    return Page(list(items), total, limit, offset)


def upcoming(viewer, *, now: datetime, limit: int = 20, instructor_id: int | None = None) -> list[TrainingSession]:
    """Sessions still to come or running now, soonest first."""
    stmt = (
        select(TrainingSession)
        .where(
            visible_to(viewer),
            TrainingSession.archived_at.is_(None),
            TrainingSession.status.not_in(FINAL_STATUSES),
            TrainingSession.end_time > now,
        )
        .order_by(TrainingSession.start_time, TrainingSession.id)
        .limit(limit)
    )
    if instructor_id is not None:
        stmt = stmt.where(TrainingSession.instructor_id == instructor_id)
    return list(db.session.scalars(stmt).unique())


def past(viewer, *, now: datetime, limit: int = 100) -> list[TrainingSession]:
    """Sessions that are over (ended, canceled, or past their end), most recent first."""
    stmt = (
        select(TrainingSession)
        .where(
            visible_to(viewer),
            TrainingSession.archived_at.is_(None),
            sa.or_(
                TrainingSession.status.in_(FINAL_STATUSES),
                TrainingSession.end_time <= now,
            ),
        )
        .order_by(TrainingSession.start_time.desc(), TrainingSession.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt).unique())


def for_event(event_id: int, viewer, *, public_only: bool = False) -> list[TrainingSession]:
    stmt = (
        select(TrainingSession)
        .where(TrainingSession.event_id == event_id, TrainingSession.archived_at.is_(None))
        .order_by(TrainingSession.start_time, TrainingSession.id)
    )
    stmt = stmt.where(TrainingSession.is_public.is_(True)) if public_only else stmt.where(visible_to(viewer))
    return list(db.session.scalars(stmt).unique())


def of_instructor(instructor_id: int, *, include_archived: bool = False) -> Sequence[TrainingSession]:
    """An instructor's own sessions: what is coming first, then the past, most recent first."""
    stmt = select(TrainingSession).where(TrainingSession.instructor_id == instructor_id)
    if not include_archived:
        stmt = stmt.where(TrainingSession.archived_at.is_(None))
    return list(db.session.scalars(stmt.order_by(TrainingSession.start_time.desc(), TrainingSession.id)).unique())


NEEDS_ROOM = (RoomStatus.NONE.value, RoomStatus.PENDING.value, RoomStatus.FAILED.value)


def needs_room_attempt(now: datetime) -> sa.ColumnElement[bool]:
    """A session without a ready room whose backoff (or another attempt's lease) has run out."""
    return sa.and_(
        TrainingSession.room_status.in_(NEEDS_ROOM),
        sa.or_(TrainingSession.room_next_attempt_at.is_(None), TrainingSession.room_next_attempt_at <= now),
    )


def overdue_session_ids(now: datetime, grace: timedelta) -> list[int]:
    """Scheduled or live sessions whose end is more than `grace` ago: the auto-end sweep ends them."""
    return list(
        db.session.scalars(
            select(TrainingSession.id).where(
                TrainingSession.status.not_in(FINAL_STATUSES),
                TrainingSession.end_time <= now - grace,
            )
        ).all()
    )


def of_room(room_id: str | None) -> TrainingSession | None:
    """The session whose room this is (the provider's meeting id), the newest if a room was ever reused."""
    if not room_id:
        return None
    return db.session.scalar(
        select(TrainingSession).where(TrainingSession.room_id == room_id).order_by(TrainingSession.id.desc()).limit(1)
    )
