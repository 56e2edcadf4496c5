"""Training's answers to what happens to events and in video rooms (signals of the packages below training)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from portal.events import signals as event_signals
from portal.extensions import db
from portal.training import operations, queries, rooms
from portal.training.models import EndReason, SessionStatus, TrainingSession
from portal.training.serializers import session_json
from portal.video import signals as video_signals


@event_signals.event_json.connect
def event_sessions_json(event, *, viewer, public_only: bool = False, **_: Any) -> dict[str, Any]:
    """An event's JSON carries the sessions the caller may see (only public ones for the public endpoint)."""
    items = queries.for_event(event.id, viewer, public_only=public_only)
    return {"training_sessions": [session_json(s, viewer) for s in items]}


@video_signals.meeting_ended.connect
def end_with_meeting(room_id: str, *, reason: str | None = None, **_: Any) -> str | None:
    """The provider ended the meeting (everyone left, or it was closed there): a live session ends with it."""
    session = queries.of_room(room_id)
    if session is None:
        return None
    if session.status != SessionStatus.LIVE.value:
        return f"session {session.id} is {session.status}: nothing to end"
    operations.end_session(session, actor=None, reason=EndReason.PROVIDER)
    return f"session {session.id} ended by the provider ({reason or 'no reason given'})"


@video_signals.recording_updated.connect
def follow_recording(
    room_id: str | None, *, recording_id: str, status: str, url: str | None, expires_at: datetime | None, **_: Any
) -> str | None:
    session = db.session.scalar(select(TrainingSession).where(TrainingSession.recording_id == recording_id))
    if session is None:
        session = queries.of_room(room_id)
        if session is None or session.recording_id or not session.recording_enabled:
            return None
        session.recording_id = recording_id  # started by the provider itself (record on start, or the host)
    if not rooms.advance_recording(session, status, url, expires_at):
        return f"stale: recording of session {session.id} is already {session.recording_status}"
    return f"recording of session {session.id} is {status}"
