"""The one JSON shape of an event. Same names as the columns."""

from __future__ import annotations

from typing import Any

from portal.core.api import iso
from portal.core.uploads import upload_url
from portal.events.models import Event


def event_json(event: Event, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The event's fields, then `extra` (what other packages add: the event page's `training_sessions`)."""
    body = {
        "id": event.id,
        "title": event.title,
        "description": event.description,
        "start_time": iso(event.start_time),
        "end_time": iso(event.end_time),
        "location": event.location,
        "visibility": event.visibility,
        "image_url": upload_url("events", event.image),  # None: no image
        "image_alt": event.image_alt or "",
        "created_at": iso(event.created_at),
        "updated_at": iso(event.updated_at),
    }
    body.update(extra or {})
    return body
