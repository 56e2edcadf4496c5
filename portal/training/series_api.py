"""JSON API of training series (/api/training/series) and the series' .ics (/training/series/<id>.ics).

The standing booking of a series (/api/training/series/<id>/booking) is seats' (portal.seats.standing_api)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from flask_login import current_user

from portal.accounts.auth import api_auth_required, api_viewer
from portal.config import current_settings
from portal.core.api import created, iso, json_body
from portal.core.errors import ValidationFailed
from portal.core.validation import MAX_ID, whole_number
from portal.training import series as operations
from portal.training.ics import series_ics
from portal.training.series_models import TrainingSeries

bp = Blueprint("series_api", __name__)


def series_json(series: TrainingSeries) -> dict[str, Any]:
    return {
        "id": series.id,
        "event_id": series.event_id,
        "instructor_id": series.instructor_id,
        "title": series.title,
        "description": series.description,
        "duration_minutes": series.duration_minutes,
        "capacity": series.capacity,
        "recording_enabled": series.recording_enabled,
        "chat_enabled": series.chat_enabled,
        "is_public": series.is_public,
        "members_only": series.members_only,
        "tags": list(series.tags or []),
        "first_start": operations.local_key(series.first_start),
        "time_zone": series.time_zone,
        "weekdays": list(series.rule.weekdays),
        "interval_weeks": series.interval_weeks,
        "count": series.count,
        "until": series.until.isoformat() if series.until else None,
        "canceled_dates": list(series.canceled),
        "canceled_at": iso(series.canceled_at),
        "created_at": iso(series.created_at),
        "updated_at": iso(series.updated_at),
    }


def _answer(series: TrainingSeries) -> dict[str, Any]:
    return {"series": series_json(series), "occurrence_ids": [s.id for s in operations.occurrences_of(series)]}


def _scope_args() -> tuple[str | None, int | None]:
    """scope and from, read as given: check_scope answers 422 with per-field errors for what is wrong."""
    scope = request.args.get("scope") or None
    raw_from = request.args.get("from")
    if raw_from in (None, ""):
        return scope, None
    number = whole_number(raw_from)
    if number is None or not 1 <= number <= MAX_ID:
        raise ValidationFailed({"from": "Give the session id (a positive whole number) of an occurrence."})
    return scope, number


@bp.post("/api/training/series")
@api_auth_required
def create_series():
    series, _sessions = operations.create_series(json_body(), actor=current_user)
    return created(_answer(series), url_for("series_api.get_series", series_id=series.id))


@bp.get("/api/training/series/<int:series_id>")
def get_series(series_id: int):
    return jsonify(_answer(operations.get_visible(series_id, api_viewer())))


@bp.put("/api/training/series/<int:series_id>")
@api_auth_required
def update_series(series_id: int):
    series = operations.get_visible(series_id, current_user)
    body = json_body()
    scope, from_id = _scope_args()
    origin = operations.check_scope(series, scope, from_id)
    changed = operations.update_series(series, body, scope=scope, origin=origin, actor=current_user)
    return jsonify({**_answer(series), "affected_ids": [s.id for s in changed]})


@bp.delete("/api/training/series/<int:series_id>")
@api_auth_required
def cancel_series(series_id: int):
    series = operations.get_visible(series_id, current_user)
    scope, from_id = _scope_args()
    origin = operations.check_scope(series, scope, from_id)
    canceled = operations.cancel_series(series, scope=scope, origin=origin, actor=current_user)
    return jsonify({**_answer(series), "affected_ids": [s.id for s in canceled]})


@bp.get("/training/series/<int:series_id>.ics")
def series_calendar(series_id: int):
    series = operations.get_visible(series_id, current_user)
    body = series_ics(series, operations.occurrences_of(series), base_url=current_settings().BASE_URL)
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="series-{series.id}.ics"'
    return response
