"""The one JSON shape of a training session. Same names as the columns.

The shape is the same for everyone; what depends on the viewer is a value: `recording_url` is the portal's watch
route for whoever may watch the recording now (rooms.recording_link) and null for anyone else; the provider's link is
never in it (the watch route fetches it at click time).
"""

from __future__ import annotations

from typing import Any

from portal.core.api import iso
from portal.training import rooms
from portal.training.models import TrainingSession


def session_json(session: TrainingSession, viewer: Any = None) -> dict[str, Any]:
    """The session as `viewer` (a User or the anonymous user) may see it; no viewer is nobody signed in."""
    return {
        "id": session.id,
        "event_id": session.event_id,
        "series_id": session.series_id,
        "instructor_id": session.instructor_id,
        "instructor_name": session.instructor.name if session.instructor else None,
        "assistant_ids": session.assistant_ids,
        "title": session.title,
        "description": session.description,
        "start_time": iso(session.start_time),
        "duration_minutes": session.duration_minutes,
        "end_time": iso(session.end_time),
        "capacity": session.capacity,
        "seats_taken": session.seats_taken,
        "recording_enabled": session.recording_enabled,
        "chat_enabled": session.chat_enabled,
        "is_public": session.is_public,
        "members_only": session.members_only,
        "release_no_shows": session.release_no_shows,
        "tags": list(session.tags or []),
        "status": session.status,
        "room_id": session.room_id,
        "room_status": session.room_status,
        "started_at": iso(session.started_at),
        "ended_at": iso(session.ended_at),
        "end_reason": session.end_reason,
        "recording_id": session.recording_id,
        "recording_status": session.recording_status,
        "recording_url": rooms.recording_link(session, viewer),
        "archived_at": iso(session.archived_at),
        "created_at": iso(session.created_at),
        "updated_at": iso(session.updated_at),
    }
