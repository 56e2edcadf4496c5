"""JSON API of events: create, edit, read (with the training sessions the caller may see)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, url_for
from flask_login import current_user

from portal.accounts.auth import api_auth_required, api_viewer
from portal.core.api import created, json_body
from portal.core.signals import answers
from portal.events import operations, queries
from portal.events.models import Event
from portal.events.serializers import event_json
from portal.events.signals import event_json as event_json_parts

bp = Blueprint("events_api", __name__, url_prefix="/api")


def _full_json(event: Event, viewer, *, public_only: bool = False) -> dict[str, Any]:
    """The event with what the packages above events add to it (its `training_sessions`)."""
    extra: dict[str, Any] = {}
    for part in answers(event_json_parts.send(event, viewer=viewer, public_only=public_only)):
        extra.update(part)
    return event_json(event, extra)


@bp.post("/events")
@api_auth_required
def create_event():
    event = operations.create_event(json_body(), actor=current_user)
    return created(_full_json(event, current_user), url_for("events_api.get_event", event_id=event.id))


@bp.put("/events/<int:event_id>")
@api_auth_required
def update_event(event_id: int):
    event = queries.get_visible(event_id, current_user)
    operations.update_event(event, json_body(), actor=current_user)
    return jsonify(_full_json(event, current_user))


@bp.get("/events/<int:event_id>")
def get_event(event_id: int):
    who = api_viewer()
    return jsonify(_full_json(queries.get_visible(event_id, who), who))


@bp.get("/events/public/<int:event_id>")
def get_public_event(event_id: int):
    """A public event with its public sessions only, whoever asks."""
    return jsonify(_full_json(queries.get_public(event_id), None, public_only=True))
