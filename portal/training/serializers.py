"""The one JSON shape of a training session (and of an event with its sessions). Same names as the columns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portal.training.models import TrainingSession
from portal.video import operations as video


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with its offset (UTC inside)."""
    return value.isoformat() if value is not None else None


def session_json(session: TrainingSession) -> dict[str, Any]:
    return {
        "id": session.id,
        "event_id": session.event_id,
        "instructor_id": session.instructor_id,
        "instructor_name": session.instructor.name if session.instructor else None,
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
        "tags": list(session.tags or []),
        "status": session.status,
        "room_id": session.room_id,
        "room_status": session.room_status,
        "started_at": iso(session.started_at),
        "ended_at": iso(session.ended_at),
        "end_reason": session.end_reason,
        "recording_id": session.recording_id,
        "recording_status": session.recording_status,
        "recording_url": video.recording_link(session),  # only while the provider's link is valid
        "archived_at": iso(session.archived_at),
        "created_at": iso(session.created_at),
        "updated_at": iso(session.updated_at),
    }


def event_json(event, sessions: list[TrainingSession] | None = None) -> dict[str, Any]:
    body = {
        "id": event.id,
        "title": event.title,
        "description": event.description,
        "start_time": iso(event.start_time),
        "end_time": iso(event.end_time),
        "location": event.location,
        "visibility": event.visibility,
        "created_at": iso(event.created_at),
        "updated_at": iso(event.updated_at),
    }
    if sessions is not None:
        body["training_sessions"] = [session_json(s) for s in sessions]
    return body
