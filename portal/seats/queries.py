"""Reads for seats, the join panel, attendance and a member's schedule.

`join_panels` answers for any number of sessions in a fixed number of queries (the viewer's seats, and the
waitlist counts of the full sessions, each one grouped query), so a page of panels stays cheap.

A poll of panels (`poll_panels`) goes further. What is the same for every viewer of a session (its status, times,
seats taken, waitlist length) is a `SessionSnapshot`: read in one statement for any number of sessions (no joins,
the waitlist counted only where a full session shows it) and kept in this process for `SNAPSHOT_SECONDS`, so a
thousand members polling one session in the same second read it once. Any write this process makes to sessions or
seats forgets every snapshot when it commits (a SQLAlchemy engine listener), so a viewer never sees this
process's own change late; another process's change shows within `SNAPSHOT_SECONDS`.

The seats of a session polled by a signed-in member (user id -> status, canceled ones included) are kept the same
way, beside its snapshot, for `SNAPSHOT_SECONDS`: read in one statement the first time a member polls it in that
second, so a member's steady poll runs no statement, as an anonymous one. A member's own seat change made in
another process shows within `SNAPSHOT_SECONDS` (as seats taken already does); one made in this process at once
(the commit forgets the seats too). Memory is bounded: a session with more than `_SEAT_MAP_MAX` seats and waiting
places is not kept (its member reads their own seat, one indexed query), and past `_SEAT_ROWS_LIMIT` seats kept in
all every kept seat map is forgotten.

A reader never keeps what it read across a write's commit: every forgetting moves the cache's generation on, and
what was read under an older generation is not kept. The commit forgets twice, before the database commits (the
SQLAlchemy event) and when its connection goes back to the pool (after it), so a poll that read the row just
before the commit landed cannot keep the old state.
"""

from __future__ import annotations

import hashlib
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import and_, case, event, func, select

from portal.config import current_settings
from portal.core.clock import now_utc
from portal.extensions import db
from portal.seats import rules
from portal.seats.attendance import AttendanceRow as AttendanceRow  # attendance: seats/attendance.py
from portal.seats.attendance import attendance_rows as attendance_rows
from portal.seats.models import Attendance, Seat, SeatStatus
from portal.seats.rules import Eligibility, SeatAction
from portal.training.models import FINAL_STATUSES, SessionAssistant, SessionStatus, TrainingSession
from portal.training.rules import can_view

SNAPSHOT_SECONDS = 1.0  # how long one process reuses a session's shared panel state
_SNAPSHOT_LIMIT = 20_000  # sessions remembered at most (then all are forgotten at once)
_SEAT_MAP_MAX = 10_000  # a session with more seats and waiting places than this keeps no seat map (read per viewer)
_SEAT_ROWS_LIMIT = 100_000  # seats kept in all seat maps at most (then every seat map is forgotten at once)
_STATUSES = {status.value: status.value for status in SeatStatus}  # one str object per status, not one per row
_WRITES = ("INSERT", "UPDATE", "DELETE", "TRUNCA", "REPLAC", "MERGE ")
_TABLES = ("training_sessions", "seats", "session_assistants")


@dataclass(frozen=True)
class SessionSnapshot:
    """The part of a session's join panel that is the same for every viewer; it reads like a TrainingSession for
    the rules and the panel template (id, title, status, times, capacity, seats taken, who may see it)."""

    id: int
    title: str
    status: str
    start_time: datetime
    end_time: datetime
    capacity: int | None
    seats_taken: int
    is_public: bool
    members_only: bool
    instructor_id: int
    late_notice_at: datetime | None  # the late-instructor notice went out (training.jobs.sweep_late_instructors)
    waitlist_count: int  # 0 unless the session is full (only a full session shows its waitlist)
    assistant_ids: tuple[int, ...] = ()  # its assistant instructors (training.rules.is_instructor_of reads them)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class _SnapshotCache:
    """Snapshots of one engine's sessions, and the seats of those members poll, each for SNAPSHOT_SECONDS;
    forgotten whenever a write to sessions or seats through this engine commits (and when one runs, so a reader
    never re-caches across the commit). `generation` moves on at each forgetting: a reader notes it before its
    statement and keeps what it read only if it has not moved."""

    def __init__(self) -> None:
        self.entries: dict[int, tuple[float, SessionSnapshot | None]] = {}
        self.seats: dict[int, tuple[float, dict[int, str]]] = {}  # session id -> (expires, user id -> status)
        self.seat_rows = 0
        self.generation = 0
        self.lock = threading.Lock()

    def get(self, session_id: int, now: float) -> tuple[bool, SessionSnapshot | None]:
        entry = self.entries.get(session_id)
        if entry is None or entry[0] <= now:
            return False, None
        return True, entry[1]

    def put(self, session_id: int, snapshot: SessionSnapshot | None, expires: float, generation: int) -> None:
        with self.lock:
            if generation != self.generation:
                return  # a write committed while it was read
            if len(self.entries) >= _SNAPSHOT_LIMIT:
                self.entries.clear()
            self.entries[session_id] = (expires, snapshot)

    def seats_of(self, session_id: int, now: float) -> dict[int, str] | None:
        """The kept seats of a session (user id -> status), None if not kept or older than SNAPSHOT_SECONDS."""
        entry = self.seats.get(session_id)
        if entry is None or entry[0] <= now:
            return None
        return entry[1]

    def put_seats(self, session_id: int, seats: dict[int, str], expires: float, generation: int) -> None:
        with self.lock:
            if generation != self.generation:
                return
            old = self.seats.pop(session_id, None)
            if old is not None:
                self.seat_rows -= len(old[1])
            if self.seat_rows + len(seats) > _SEAT_ROWS_LIMIT or len(self.seats) >= _SNAPSHOT_LIMIT:
                self.seats.clear()
                self.seat_rows = 0
            self.seats[session_id] = (expires, seats)
            self.seat_rows += len(seats)

    def clear(self) -> None:
        with self.lock:
            self.generation += 1
            self.entries.clear()
            self.seats.clear()
            self.seat_rows = 0


_caches: weakref.WeakKeyDictionary[sa.Engine, _SnapshotCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _touches_panels(statement: str) -> bool:
    head = statement.lstrip()[:6].upper()
    return head in _WRITES and any(table in statement for table in _TABLES)


def snapshot_cache(engine: sa.Engine | None = None) -> _SnapshotCache:
    """The engine's snapshot cache, created (with its listeners) on first use."""
    engine = engine or db.engine
    cache = _caches.get(engine)
    if cache is not None:
        return cache
    with _caches_lock:
        cache = _caches.get(engine)
        if cache is None:
            cache = _SnapshotCache()

            def on_execute(conn, cursor, statement, parameters, context, executemany) -> None:
                if _touches_panels(statement):
                    conn.info["panel_write"] = True
                    cache.clear()

            def on_commit(conn) -> None:
                # runs before the database commits: forget now, and again once it has (on_checkin)
                if conn.info.pop("panel_write", False):
                    conn.info["panel_committed"] = True
                    cache.clear()

            def on_rollback(conn) -> None:
                if conn.info.pop("panel_write", False):
                    cache.clear()

            def on_checkin(dbapi_connection, record) -> None:
                if record is not None and record.info.pop("panel_committed", False):
                    cache.clear()

            event.listen(engine, "before_cursor_execute", on_execute)
            event.listen(engine, "commit", on_commit)
            event.listen(engine, "rollback", on_rollback)
            event.listen(engine, "checkin", on_checkin)
            _caches[engine] = cache
    return cache


_SNAPSHOT_COLUMNS = (
    TrainingSession.id,
    TrainingSession.title,
    TrainingSession.status,
    TrainingSession.start_time,
    TrainingSession.end_time,
    TrainingSession.capacity,
    TrainingSession.seats_taken,
    TrainingSession.is_public,
    TrainingSession.members_only,
    TrainingSession.instructor_id,
    TrainingSession.late_notice_at,
)


_WAITING = (
    select(func.count())
    .select_from(Seat)
    .where(Seat.session_id == TrainingSession.id, Seat.status == SeatStatus.WAITLISTED.value)
    .correlate(TrainingSession)
    .scalar_subquery()
)
_FULL = and_(TrainingSession.capacity.is_not(None), TrainingSession.seats_taken >= TrainingSession.capacity)
# The shared part of any number of panels in one statement: the waitlist is counted only where a full session shows it
_HAS_ASSISTANTS = sa.exists().where(SessionAssistant.session_id == TrainingSession.id).correlate(TrainingSession)
_SNAPSHOTS = select(*_SNAPSHOT_COLUMNS, case((_FULL, _WAITING), else_=0), _HAS_ASSISTANTS).where(
    TrainingSession.id.in_(sa.bindparam("ids", expanding=True))
)


def _reader(reads_only: bool) -> sa.Connection:
    """The connection a poll's statement runs on, taken only when a statement must run (a poll answered from the
    cache takes none). `reads_only` (a request that only reads): in autocommit, without the BEGIN and COMMIT round
    trips of a transaction, unless the request already opened one (loading a signed-in user not kept)."""
    session = db.session()
    if reads_only and not session.in_transaction():
        return session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return session.connection()


def snapshots(
    session_ids: Sequence[int], *, fresh: bool = False, reads_only: bool = False
) -> dict[int, SessionSnapshot]:
    """The shared panel state of each existing session of `session_ids`: from this process's cache where it is
    younger than SNAPSHOT_SECONDS (unless `fresh`), the rest in one statement (the waitlist counted in the same
    statement, only for full sessions). `reads_only`: see `_reader`."""
    cache = snapshot_cache()
    clock = time.monotonic()
    found: dict[int, SessionSnapshot] = {}
    missing: list[int] = []
    for session_id in dict.fromkeys(session_ids):
        hit, snapshot = (False, None) if fresh else cache.get(session_id, clock)
        if not hit:
            missing.append(session_id)
        elif snapshot is not None:
            found[session_id] = snapshot
    if missing:
        generation = cache.generation  # noted before the statement: kept only if no write committed meanwhile
        rows = _reader(reads_only).execute(_SNAPSHOTS, {"ids": missing}).all()
        assisted = _assistant_ids([row[0] for row in rows if row[-1]])  # a statement only where there are any
        loaded = {
            row[0]: SessionSnapshot(*row[:-2], waitlist_count=int(row[-2] or 0), assistant_ids=assisted.get(row[0], ()))
            for row in rows
        }
        expires = clock + SNAPSHOT_SECONDS
        for session_id in missing:
            snapshot = loaded.get(session_id)
            cache.put(session_id, snapshot, expires, generation)
            if snapshot is not None:
                found[session_id] = snapshot
    return found


def _assistant_ids(session_ids: list[int]) -> dict[int, tuple[int, ...]]:
    if not session_ids:
        return {}
    found: dict[int, list[int]] = {}
    for session_id, user_id in db.session.execute(
        select(SessionAssistant.session_id, SessionAssistant.user_id)
        .where(SessionAssistant.session_id.in_(session_ids))
        .order_by(SessionAssistant.session_id, SessionAssistant.user_id)
    ):
        found.setdefault(session_id, []).append(user_id)
    return {session_id: tuple(ids) for session_id, ids in found.items()}


@dataclass(frozen=True)
class JoinPanel:
    session: TrainingSession | SessionSnapshot
    eligibility: Eligibility
    seat_status: str | None  # the viewer's seat: confirmed, waitlisted, canceled or None
    seat_action: SeatAction | None  # the one seat button offered
    waitlist_count: int
    now: datetime

    @property
    def seconds_until_start(self) -> int:
        return max(int((self.session.start_time - self.now).total_seconds()), 0)

    @property
    def instructor_late(self) -> bool:
        """Still scheduled past its start, and the late-instructor notice went out: waiting members are told."""
        s = self.session
        return s.status == SessionStatus.SCHEDULED and s.late_notice_at is not None and s.start_time <= self.now

    def etag(self, viewer_key: str) -> str:
        """A strong ETag (unquoted) of what the panel shows `viewer_key` (who they are, their zone): everything it
        renders except the seconds of its countdowns, which tick in the browser. It changes when the panel's stage does
        (the window opens, the start passes, the poll interval changes, the Start button's stage moves, the
        instructor is reported late), so a poll that gets 304 misses nothing."""
        s, e = self.session, self.eligibility
        state = (
            s.id, s.title, s.status, s.start_time.isoformat(), s.capacity, s.seats_taken, self.waitlist_count,
            self.seat_status, self.seat_action, e.reason, e.can_join, e.poll_seconds, e.is_host,
            e.seconds_until_open > 0, self.seconds_until_start > 0, e.opens_at.isoformat() if e.opens_at else None,
            e.start_stage, self.instructor_late, viewer_key,
        )  # fmt: skip
        return hashlib.blake2b(repr(state).encode(), digest_size=12).hexdigest()


def join_panels(sessions: Sequence[TrainingSession], viewer, *, with_waitlist: bool = True) -> dict[int, JoinPanel]:
    """One join panel per session for `viewer` (a User or the anonymous user), in at most two queries.

    `with_waitlist=False` skips counting waitlists (every `waitlist_count` is 0), for callers that never show it.
    Only full sessions show a waitlist, so only theirs are counted.
    """
    ids = [s.id for s in sessions]
    full = [s.id for s in sessions if s.capacity is not None and s.seats_taken >= s.capacity]
    waiting = waitlist_counts(full) if with_waitlist else {}
    return _panels(sessions, viewer, viewer_seat_statuses(ids, viewer), waiting)


def _panels(sessions, viewer, seats: dict[int, str], waiting: dict[int, int]) -> dict[int, JoinPanel]:
    window = current_settings().join_window
    now = now_utc()
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


def poll_panels(
    session_ids: Sequence[int], viewer, *, fresh: bool = False, reads_only: bool = False
) -> dict[int, JoinPanel]:
    """The join panels of the sessions of `session_ids` that exist and `viewer` may see, built on the shared
    snapshots and the kept seats: no query while both are cached (signed in or not), one for the shared part and
    one for the seats of the sessions a member polls first in their second.
    `fresh`: read the snapshots and seats now (after a seat change, the viewer sees their own write).
    `reads_only`: a request that only reads runs these statements in autocommit (see `_reader`)."""
    shown = [s for s in snapshots(session_ids, fresh=fresh, reads_only=reads_only).values() if can_view(s, viewer)]
    seats = polled_seat_statuses(shown, viewer, fresh=fresh, reads_only=reads_only)
    return _panels(shown, viewer, seats, {s.id: s.waitlist_count for s in shown})


# Built once, run as plain (Core) statements
_SESSION_SEATS = select(Seat.session_id, Seat.user_id, Seat.status).where(
    Seat.session_id.in_(sa.bindparam("ids", expanding=True))
)
_VIEWER_SEATS = select(Seat.session_id, Seat.status).where(
    Seat.user_id == sa.bindparam("user_id"), Seat.session_id.in_(sa.bindparam("ids", expanding=True))
)


def polled_seat_statuses(
    shown: Sequence[SessionSnapshot], viewer, *, fresh: bool = False, reads_only: bool = False
) -> dict[int, str]:
    """The viewer's seat status in each session of `shown`, as `viewer_seat_statuses` answers, from the seats kept
    beside the snapshots: the seats of the sessions not kept (or older than SNAPSHOT_SECONDS) are read in one
    statement and kept. A session too large to keep (`_SEAT_MAP_MAX`) has the viewer's own seat read instead."""
    if not shown or not getattr(viewer, "is_authenticated", False):
        return {}
    cache = snapshot_cache()
    clock = time.monotonic()
    user_id = viewer.id
    statuses: dict[int, str] = {}
    load: list[int] = []
    own: list[int] = []
    for session in shown:
        kept = None if fresh else cache.seats_of(session.id, clock)
        if kept is not None:
            if (status := kept.get(user_id)) is not None:
                statuses[session.id] = status
        elif session.seats_taken + session.waitlist_count <= _SEAT_MAP_MAX:
            load.append(session.id)
        else:
            own.append(session.id)
    if load:
        generation = cache.generation  # noted before the statement: kept only if no write committed meanwhile
        maps: dict[int, dict[int, str]] = {session_id: {} for session_id in load}
        for session_id, seat_user_id, status in _reader(reads_only).execute(_SESSION_SEATS, {"ids": load}):
            maps[session_id][seat_user_id] = _STATUSES.get(status, status)
        expires = clock + SNAPSHOT_SECONDS
        for session_id, seats in maps.items():
            if len(seats) <= _SEAT_MAP_MAX:
                cache.put_seats(session_id, seats, expires, generation)
            if (status := seats.get(user_id)) is not None:
                statuses[session_id] = status
    if own:
        rows = _reader(reads_only).execute(_VIEWER_SEATS, {"user_id": user_id, "ids": own})
        statuses.update(dict(rows.all()))
    return statuses


def viewer_seat_statuses(session_ids: Sequence[int], viewer) -> dict[int, str]:
    if not session_ids or not getattr(viewer, "is_authenticated", False):
        return {}
    rows = db.session.connection().execute(_VIEWER_SEATS, {"user_id": viewer.id, "ids": list(session_ids)})
    return dict(rows.all())


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
    """1 for the first on the waitlist; None if the person is not on it. Exact right after `operations.reserve`
    in the same transaction: waitlist places are given one at a time under the session's row lock, so every place
    before this one has committed and is counted."""
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


# attendance_rows and AttendanceRow live in portal/seats/attendance.py (imported above, for the callers here).


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


PAST_SHOWN = 50  # My schedule lists this many past sessions (most recent first), folded away


def my_past_sessions(user) -> list[ScheduleEntry]:
    """The ended sessions `user` held a seat in, most recent first (at most PAST_SHOWN)."""
    rows = db.session.execute(
        select(TrainingSession, Seat.status)
        .join(Seat, Seat.session_id == TrainingSession.id)
        .where(
            Seat.user_id == user.id,
            Seat.status == SeatStatus.CONFIRMED.value,
            TrainingSession.status == SessionStatus.ENDED.value,
            TrainingSession.archived_at.is_(None),
        )
        .order_by(TrainingSession.start_time.desc(), TrainingSession.id.desc())
        .limit(PAST_SHOWN)
    ).all()
    return [ScheduleEntry(session, status) for session, status in rows]
