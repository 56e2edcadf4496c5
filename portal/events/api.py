"""JSON API of events: create, edit, read (with the training sessions the caller may see)."""

from __future__ import annotations

from flask import Blueprint, jsonify, url_for
from flask_login import current_user

from portal.accounts.auth import api_auth_required
from portal.core.api import json_body
from portal.events import operations, queries
from portal.extensions import db
from portal.training import queries as sessions
from portal.training.api import viewer
from portal.training.serializers import event_json

bp = Blueprint("events_api", __name__, url_prefix="/api")


@bp.post("/events")
@api_auth_required
def create_event():
    event = operations.create_event(json_body(), actor=current_user)
    db.session.commit()
    response = jsonify(event_json(event, []))
    response.headers["Location"] = url_for("events_api.get_event", event_id=event.id)
    return response, 201


@bp.put("/events/<int:event_id>")
@api_auth_required
def update_event(event_id: int):
    event = queries.get_visible(event_id, current_user)
    operations.update_event(event, json_body(), actor=current_user)
    db.session.commit()
    return jsonify(event_json(event, sessions.for_event(event.id, current_user)))


@bp.get("/events/<int:event_id>")
def get_event(event_id: int):
    who = viewer()
    event = queries.get_visible(event_id, who)
    return jsonify(event_json(event, sessions.for_event(event.id, who)))


@bp.get("/events/public/<int:event_id>")
def get_public_event(event_id: int):
    """A public event with its public sessions only, whoever asks."""
    event = queries.get_public(event_id)
    return jsonify(event_json(event, sessions.for_event(event.id, None, public_only=True)))
