"""A member's training log: the sessions they attended, the minutes, and totals by tag and by month (for gradings).

Minutes come from the person's attendance row (portal/seats/models.py Attendance: first join, last join, last leave,
the seconds of the visits that ended, whether they are in the room now), counted only inside the session's live
period (from `started_at` to `ended_at`, or to now while it is live): time in the room before the start or after the
end does not count, and visits that overlap are counted once. The math is pure (`attended_seconds`, `union_seconds`,
`totals`); `log_for` reads the rows.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import select

from portal.core.i18n import formatting_locale
from portal.extensions import db
from portal.seats.models import Attendance
from portal.training.models import SessionStatus, TrainingSession

NO_TAG = "(no tag)"
Interval = tuple[datetime, datetime]


# ------------------------------------------------------------------------------------------------ pure math
def overlap_seconds(start: datetime, end: datetime, window: Interval) -> int:
    """Seconds of [start, end) inside `window`."""
    low, high = max(start, window[0]), min(end, window[1])
    return max(int((high - low).total_seconds()), 0)


def union_seconds(intervals: Iterable[Interval], window: Interval) -> int:
    """Seconds covered by `intervals` inside `window`, each moment once however many intervals cover it."""
    clipped = sorted(
        (max(start, window[0]), min(end, window[1])) for start, end in intervals if min(end, window[1]) > window[0]
    )
    total = 0
    current: list[datetime] | None = None
    for start, end in clipped:
        if end <= start:
            continue
        if current is not None and start <= current[1]:
            current[1] = max(current[1], end)
            continue
        if current is not None:
            total += int((current[1] - current[0]).total_seconds())
        current = [start, end]
    if current is not None:
        total += int((current[1] - current[0]).total_seconds())
    return total


def live_period(session: TrainingSession, now: datetime) -> Interval | None:
    """When the session was live: started_at to ended_at (to now while live; to the scheduled end for an ended row
    without an end time). None for a session that never went live."""
    if session.started_at is None:
        return None
    if session.ended_at is not None:
        end = session.ended_at
    elif session.status == SessionStatus.LIVE.value:
        end = now
    else:
        end = session.end_time
    return (session.started_at, max(end, session.started_at))


def attended_seconds(row: Attendance, live: Interval | None, now: datetime) -> int:
    """The seconds `row`'s person was in the room while the session was live.

    The row keeps the visits that ended as a sum (`watch_seconds`) within [first_joined_at, the last leave]; those
    visits never overlap (a join while present is not a second visit). That sum is clipped to the part of its span
    inside the live period, which is exact for one visit (a join before the start loses the minutes before it).
    A visit still open (`is_present`) runs from its join to the end of the live period, or now while it is live,
    and is counted once with the span of the earlier visits."""
    if live is None:
        return 0
    done_until = row.last_joined_at if row.is_present else (row.last_left_at or row.last_joined_at)
    earlier = 0
    if row.watch_seconds > 0 and done_until > row.first_joined_at:
        earlier = min(row.watch_seconds, overlap_seconds(row.first_joined_at, done_until, live))
    if not row.is_present:
        return earlier
    # the open visit starts where the span of the earlier ones stops (done_until is its join): no moment twice
    return earlier + union_seconds([(row.last_joined_at, min(now, live[1]))], live)


@dataclass(frozen=True)
class LogEntry:
    session_id: int
    title: str
    tags: tuple[str, ...]
    instructor_name: str
    started_at: datetime  # when it went live (UTC)
    seconds: int
    join_count: int
    is_live: bool

    @property
    def minutes(self) -> int:
        """Whole minutes (the seconds of one session rounded down); totals add these, so they always agree."""
        return self.seconds // 60


@dataclass(frozen=True)
class Total:
    key: str  # a tag, or a month as YYYY-MM
    label: str
    sessions: int
    minutes: int


@dataclass(frozen=True)
class LogTotals:
    sessions: int
    minutes: int
    by_tag: list[Total]
    by_month: list[Total]


def month_key(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m")


def totals(entries: list[LogEntry], zone: ZoneInfo) -> LogTotals:
    """Totals by tag (a session with two tags counts under each; untagged ones under NO_TAG; most minutes first)
    and by month of the start in `zone` (newest first)."""
    tags: dict[str, list[int]] = {}
    months: dict[str, list[int]] = {}
    for entry in entries:
        for tag in entry.tags or (NO_TAG,):
            bucket = tags.setdefault(tag, [0, 0])
            bucket[0] += 1
            bucket[1] += entry.minutes
        bucket = months.setdefault(month_key(entry.started_at, zone), [0, 0])
        bucket[0] += 1
        bucket[1] += entry.minutes
    by_tag = [Total(tag, tag, n, m) for tag, (n, m) in sorted(tags.items(), key=lambda kv: (-kv[1][1], kv[0]))]
    by_month = [
        # the month in the viewer's language: "March 2027", "März 2027"
        Total(key, format_date(datetime.strptime(key, "%Y-%m").date(), "LLLL y", locale=formatting_locale()), n, m)  # noqa: DTZ007
        for key, (n, m) in sorted(months.items(), reverse=True)
    ]
    return LogTotals(len(entries), sum(e.minutes for e in entries), by_tag, by_month)


def name_slug(name: str, fallback: str) -> str:
    """'Zoë Müller-Łaski' -> 'zoe-muller-aski': for a file name; `fallback` when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60].strip("-")
    return slug or fallback


# ------------------------------------------------------------------------------------------------ queries
def log_for(user_id: int, now: datetime) -> list[LogEntry]:
    """Every session the person attended that went live, newest first (archived ones included: a grading looks
    back years)."""
    rows = db.session.execute(
        select(Attendance, TrainingSession)
        .join(TrainingSession, TrainingSession.id == Attendance.session_id)
        .where(Attendance.user_id == user_id, TrainingSession.started_at.is_not(None))
        .order_by(TrainingSession.started_at.desc(), TrainingSession.id.desc())
    ).all()
    entries = []
    for row, session in rows:
        live = live_period(session, now)
        entries.append(
            LogEntry(
                session_id=session.id,
                title=session.title,
                tags=tuple(session.tags or ()),
                instructor_name=session.instructor.name,
                started_at=session.started_at,
                seconds=attended_seconds(row, live, now),
                join_count=row.join_count,
                is_live=session.status == SessionStatus.LIVE.value,
            )
        )
    return entries
