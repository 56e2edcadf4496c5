"""Reads of training sessions, always filtered by what the viewer may see."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.accounts.roles import Role, has_role
from portal.core.errors import NotFound
from portal.core.validation import is_id
from portal.extensions import db
from portal.training import rules
from portal.training.models import FINAL_STATUSES, RoomStatus, SessionAssistant, SessionStatus, TrainingSession

SORT_COLUMNS = {
    "start_time": TrainingSession.start_time,
    "created_at": TrainingSession.created_at,
    "title": TrainingSession.title,
}
SORT_ORDERS = ("asc", "desc")
# SessionStatus values that are not final, for SQL: `status IN` lets an index on status seek (`NOT IN` scans).
ACTIVE_STATUSES = tuple(status.value for status in SessionStatus if not status.is_final)


@dataclass(frozen=True)
class SessionFilters:
    status: str | None = None
    instructor_id: int | None = None
    event_id: int | None = None
    upcoming: bool = False
    include_archived: bool = False
    sort_by: str = "start_time"
    sort_order: str = "asc"
    # Finding sessions (issue 11): every word in the title or the description, every tag, one series, a start range.
    words: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    series_id: int | None = None
    start_from: datetime | None = None  # sessions starting at or after
    start_to: datetime | None = None  # sessions starting before


# Search words and tags a query may carry: more say nothing more and only make the statement longer.
MAX_WORDS = 10
Q_MAX = 200  # characters of a search


def search_words(text: str) -> tuple[str, ...]:
    """The distinct lowercased words of a search box (at most MAX_WORDS), in order."""
    return tuple(dict.fromkeys(text.lower().split()))[:MAX_WORDS]


def narrowing(filters: SessionFilters) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of the finding filters (not visibility, archive or time of the list). Equalities seek
    their index (instructor, event, series); words and tags are checked on the rows the list's index walk reads,
    which stops once the page is full. LIKE wildcards in a word are escaped: `50%` finds "50%", not "50 and more"."""
    where: list[sa.ColumnElement[bool]] = []
    if filters.status:
        where.append(TrainingSession.status == filters.status)
    if filters.instructor_id is not None:
        where.append(TrainingSession.instructor_id == filters.instructor_id)
    if filters.event_id is not None:
        where.append(TrainingSession.event_id == filters.event_id)
    if filters.series_id is not None:
        where.append(TrainingSession.series_id == filters.series_id)
    if filters.start_from is not None:
        where.append(TrainingSession.start_time >= filters.start_from)
    if filters.start_to is not None:
        where.append(TrainingSession.start_time < filters.start_to)
    for word in filters.words:
        where.append(
            sa.or_(
                sa.func.lower(TrainingSession.title).contains(word.lower(), autoescape=True),
                sa.func.lower(TrainingSession.description).contains(word.lower(), autoescape=True),
            )
        )
    for tag in filters.tags:
        # tags are stored as a JSON list of lowercased strings, written by json.dumps: a tag is in the list when
        # its own JSON string (quotes included, so "kata" does not match "kata-2") is in the text.
        where.append(sa.cast(TrainingSession.tags, sa.Text).contains(json.dumps(tag.strip().lower()), autoescape=True))
    return where


@dataclass(frozen=True)
class Page:
    items: list[TrainingSession]
    total: int
    limit: int
    offset: int


def _one_page(
    where: list[sa.ColumnElement[bool]], order: tuple, *, limit: int, offset: int, with_assistants: bool = False
) -> list[TrainingSession]:
    """The sessions of one page of a list. The page's ids are picked first, from an index, as narrow rows with no
    join; only those rows are then loaded with their instructor and event (eager joins): a list never joins or
    sorts the wide rows of every match. One statement; `with_assistants`: and one more for the page's assistants
    (where the page asks who the instructors of each session are), never one per session."""
    ids = select(TrainingSession.id).where(*where).order_by(*order).limit(limit).offset(offset).correlate(None)
    stmt = select(TrainingSession).where(TrainingSession.id.in_(ids.scalar_subquery())).order_by(*order)
    if with_assistants:
        stmt = stmt.options(selectinload(TrainingSession.assistants))
    return list(db.session.scalars(stmt).unique())


def needs_assistants(viewer) -> bool:
    """Whether a page of sessions shown to `viewer` asks, per session, if the viewer is one of its instructors
    (rules.is_instructor_of, for the Start button of each join panel): only for instructors and above; members'
    and visitors' lists never read the assistants."""
    return has_role(viewer, Role.INSTRUCTOR)


def teaches(user_id: int) -> sa.ColumnElement[bool]:
    """Sessions `user_id` leads or assists (rules.is_instructor_of, as SQL): the lead's index, or their rows of
    session_assistants (indexed by user)."""
    assisted = select(SessionAssistant.session_id).where(SessionAssistant.user_id == user_id)
    return sa.or_(TrainingSession.instructor_id == user_id, TrainingSession.id.in_(assisted))


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
    """One page in the asked order, and how many match. Both read an index (archived history is not in the
    default ones), and the total is counted from the index alone, without the rows, where the filters allow."""
    where = [visible_to(viewer), *narrowing(filters)]
    if filters.upcoming:
        where += [TrainingSession.status == SessionStatus.SCHEDULED.value, TrainingSession.start_time > now]
    if not filters.include_archived:
        where.append(TrainingSession.archived_at.is_(None))
    total = db.session.scalar(select(sa.func.count()).select_from(TrainingSession).where(*where)) or 0
    column = SORT_COLUMNS[filters.sort_by]
    descending = filters.sort_order == "desc"
    order = (column.desc(), TrainingSession.id.desc()) if descending else (column.asc(), TrainingSession.id.asc())
    # the JSON of each session carries its assistant_ids: one statement for the page's assistants
    return Page(_one_page(where, order, limit=limit, offset=offset, with_assistants=True), total, limit, offset)


def upcoming(
    viewer,
    *,
    now: datetime,
    limit: int = 20,
    offset: int = 0,
    instructor_id: int | None = None,
    filters: SessionFilters | None = None,
    teacher_id: int | None = None,
    with_assistants: bool | None = None,
) -> list[TrainingSession]:
    """Sessions still to come or running now, soonest first. Reads the index of sessions by status and end (not
    archived: only final sessions ever are), so past sessions are never read. `filters`: the finding filters.
    `instructor_id`: led by; `teacher_id`: led or assisted by. `with_assistants`: load the page's assistants (by
    default when the viewer is an instructor: their join panels ask whether they teach each session)."""
    where = [
        visible_to(viewer),
        TrainingSession.archived_at.is_(None),
        TrainingSession.status.in_(ACTIVE_STATUSES),
        TrainingSession.end_time > now,
        *(narrowing(filters) if filters else ()),
    ]
    if instructor_id is not None:
        where.append(TrainingSession.instructor_id == instructor_id)
    if teacher_id is not None:
        where.append(teaches(teacher_id))
    if with_assistants is None:
        with_assistants = needs_assistants(viewer)
    order = (TrainingSession.start_time, TrainingSession.id)
    return _one_page(where, order, limit=limit, offset=offset, with_assistants=with_assistants)


def past(
    viewer,
    *,
    now: datetime,
    limit: int = 100,
    offset: int = 0,
    instructor_id: int | None = None,
    include_archived: bool = False,
    filters: SessionFilters | None = None,
    teacher_id: int | None = None,
    with_assistants: bool | None = None,
) -> list[TrainingSession]:
    """Sessions that are over (ended, canceled, or past their end), most recent first: a backward walk of the
    start-time index (of sessions not archived, unless asked) that stops after the page. `teacher_id` and
    `with_assistants` as for upcoming."""
    where = [
        visible_to(viewer),
        sa.or_(TrainingSession.status.in_(FINAL_STATUSES), TrainingSession.end_time <= now),
        *(narrowing(filters) if filters else ()),
    ]
    if not include_archived:
        where.append(TrainingSession.archived_at.is_(None))
    if instructor_id is not None:
        where.append(TrainingSession.instructor_id == instructor_id)
    if teacher_id is not None:
        where.append(teaches(teacher_id))
    if with_assistants is None:
        with_assistants = needs_assistants(viewer)
    order = (TrainingSession.start_time.desc(), TrainingSession.id.desc())
    return _one_page(where, order, limit=limit, offset=offset, with_assistants=with_assistants)


# A week holds at most this many sessions on the timetable; beyond it the page says the week is cut short.
WEEK_LIMIT = 500


def in_week(viewer, start: datetime, end: datetime, filters: SessionFilters | None = None) -> list[TrainingSession]:
    """The sessions the viewer may see that start in [start, end) (not archived), in start order, at most
    WEEK_LIMIT + 1 (so that a cut is seen). One statement along the start-time index, seeking the range."""
    where = [
        visible_to(viewer),
        TrainingSession.archived_at.is_(None),
        TrainingSession.start_time >= start,
        TrainingSession.start_time < end,
        *(narrowing(filters) if filters else ()),
    ]
    return _one_page(where, (TrainingSession.start_time, TrainingSession.id), limit=WEEK_LIMIT + 1, offset=0)


def for_event(event_id: int, viewer, *, public_only: bool = False) -> list[TrainingSession]:
    """An event's sessions, with their assistants (the event's JSON carries assistant_ids; its page asks who
    teaches each): two statements."""
    stmt = (
        select(TrainingSession)
        .where(TrainingSession.event_id == event_id, TrainingSession.archived_at.is_(None))
        .order_by(TrainingSession.start_time, TrainingSession.id)
        .options(selectinload(TrainingSession.assistants))
    )
    stmt = stmt.where(TrainingSession.is_public.is_(True)) if public_only else stmt.where(visible_to(viewer))
    return list(db.session.scalars(stmt).unique())


NEEDS_ROOM = (RoomStatus.NONE.value, RoomStatus.PENDING.value, RoomStatus.FAILED.value)


def needs_room_attempt(now: datetime) -> sa.ColumnElement[bool]:
    """A session without a ready room whose backoff (or another attempt's lease) has run out."""
    return sa.and_(
        TrainingSession.room_status.in_(NEEDS_ROOM),
        sa.or_(TrainingSession.room_next_attempt_at.is_(None), TrainingSession.room_next_attempt_at <= now),
    )


def overdue_session_ids(now: datetime, grace: timedelta) -> list[int]:
    """Scheduled or live sessions whose end is more than `grace` ago: the auto-end sweep ends them. (Only final
    sessions are archived: saying so lets the query seek the partial status/end index.)"""
    return list(
        db.session.scalars(
            select(TrainingSession.id).where(
                TrainingSession.archived_at.is_(None),
                TrainingSession.status.in_(ACTIVE_STATUSES),
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
