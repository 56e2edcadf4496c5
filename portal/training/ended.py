"""What the "ended" page of a session reads (portal.training.ended_views): how it came to an end, whether a
recording is to come, and what comes next in its series, or else in its event.

Each read is one indexed query: the next sessions of a series by the series index, those of an event by the
event index of sessions not archived; only sessions the viewer may see (training.queries.visible_to)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from portal.events import rules as event_rules
from portal.events.models import Event
from portal.extensions import db
from portal.training import rules
from portal.training.models import EndReason, SessionStatus, TrainingSession
from portal.training.queries import ACTIVE_STATUSES, visible_to
from portal.training.series_models import TrainingSeries

NEXT_SHOWN = 3  # the ended page lists at most this many next sessions


@dataclass(frozen=True)
class EndedPage:
    session: TrainingSession
    outcome: str  # "ended", "not_started", "canceled", or "open" (the meeting closed; the portal has no end yet)
    recording_to_come: bool  # recording on, the session took place, and the viewer may watch recordings of it
    next_sessions: list[TrainingSession]
    next_of: str | None  # "series" or "event": what next_sessions are the next of; None when there are none
    series: TrainingSeries | None
    event: Event | None  # the session's event, when the viewer may see it

    # What the template asks, by name (templates never spell a status as a string: tests/test_smoke.py).
    @property
    def was_canceled(self) -> bool:
        return self.outcome == "canceled"

    @property
    def did_not_take_place(self) -> bool:
        return self.outcome == "not_started"

    @property
    def has_ended(self) -> bool:
        return self.outcome == "ended"

    @property
    def next_in_series(self) -> bool:
        return self.next_of == "series"


def outcome(session: TrainingSession) -> str:
    if session.status == SessionStatus.CANCELED:
        return "canceled"
    if session.status == SessionStatus.ENDED:
        return "not_started" if session.end_reason == EndReason.NOT_STARTED else "ended"
    return "open"


def ended_page(session: TrainingSession, viewer, now: datetime) -> EndedPage:
    """The ended page of `session` (which `viewer` may see) at `now`."""
    result = outcome(session)
    took_place = result == "ended" or (result == "open" and session.status == SessionStatus.LIVE)
    recording = bool(session.recording_enabled) and took_place and rules.can_watch_recording(session, viewer)
    event = session.event if session.event is not None and event_rules.can_view(session.event, viewer) else None
    series = db.session.get(TrainingSeries, session.series_id) if session.series_id is not None else None
    following, next_of = what_comes_next(session, viewer, now)
    return EndedPage(session, result, recording, following, next_of, series, event)


def what_comes_next(session: TrainingSession, viewer, now: datetime) -> tuple[list[TrainingSession], str | None]:
    """THE rule of "the next sessions" after `session` (the ended page, the "did not take place" email): up to
    NEXT_SHOWN of its series that `viewer` may see, else of its event (when they may see the event); and which
    of the two they are ("series", "event", or None when there are none)."""
    if session.series_id is not None:
        following = next_sessions(session, viewer, now, TrainingSession.series_id == session.series_id)
        if following:
            return following, "series"
    event = session.event
    if event is not None and event_rules.can_view(event, viewer):
        following = next_sessions(session, viewer, now, TrainingSession.event_id == event.id)
        if following:
            return following, "event"
    return [], None


def next_sessions(session: TrainingSession, viewer, now: datetime, same) -> list[TrainingSession]:
    """Up to NEXT_SHOWN sessions matching `same` (its series, its event) that are still to come or running, that
    `viewer` may see, soonest first, `session` itself left out."""
    return list(
        db.session.scalars(
            select(TrainingSession)
            .where(
                same,
                visible_to(viewer),
                TrainingSession.id != session.id,
                TrainingSession.archived_at.is_(None),
                TrainingSession.status.in_(ACTIVE_STATUSES),
                TrainingSession.end_time > now,
            )
            .order_by(TrainingSession.start_time, TrainingSession.id)
            .limit(NEXT_SHOWN)
        )
    )
