"""JSON API of training sessions: /api/training/sessions (the seed's contract, one name per field)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for
from flask_login import current_user

from portal.accounts.auth import api_auth_required, api_viewer
from portal.core.api import bool_arg, created, int_arg, json_body
from portal.core.clock import now_utc
from portal.core.errors import BadRequest, ServiceUnavailable
from portal.core.validation import MAX_ID
from portal.core.web import keep_work_before_error
from portal.training import operations, queries
from portal.training.models import EndReason, SessionStatus
from portal.training.serializers import session_json

bp = Blueprint("training_api", __name__, url_prefix="/api")
MAX_PAGE = 100


def _choice(name: str, allowed, default: str | None) -> str | None:
    value = request.args.get(name) or default
    if value is not None and value not in allowed:
        raise BadRequest(f"Query parameter {name!r} must be one of: {', '.join(allowed)}.", code="malformed")
    return value


def _filters() -> queries.SessionFilters:
    return queries.SessionFilters(
        status=_choice("status", [s.value for s in SessionStatus], None),
        instructor_id=int_arg("instructor_id", None, minimum=1, maximum=MAX_ID),
        event_id=int_arg("event_id", None, minimum=1, maximum=MAX_ID),
        upcoming=bool_arg("upcoming"),
        include_archived=bool_arg("include_archived"),
        sort_by=_choice("sort_by", list(queries.SORT_COLUMNS), "start_time"),
        sort_order=_choice("sort_order", list(queries.SORT_ORDERS), "asc"),
    )


@bp.get("/training/sessions")
def list_sessions():
    who = api_viewer()
    page = queries.list_sessions(
        who,
        _filters(),
        limit=int_arg("limit", 20, minimum=1, maximum=MAX_PAGE),
        offset=int_arg("offset", 0, minimum=0),
        now=now_utc(),
    )
    return jsonify(
        {
            "items": [session_json(s, who) for s in page.items],
            "total": page.total,
            "limit": page.limit,
            "offset": page.offset,
        }
    )


@bp.post("/training/sessions")
@api_auth_required
def create_session():
    session = operations.create_session(json_body(), actor=current_user)
    return created(session_json(session, current_user), url_for("training_api.get_session", session_id=session.id))


@bp.get("/training/sessions/<int:session_id>")
def get_session(session_id: int):
    who = api_viewer()
    return jsonify(session_json(queries.get_visible(session_id, who), who))


@bp.put("/training/sessions/<int:session_id>")
@api_auth_required
def update_session(session_id: int):
    session = queries.get_visible(session_id, current_user)
    body = json_body()
    operations.update_session(session, body, actor=current_user)
    return jsonify(session_json(session, current_user))


@bp.delete("/training/sessions/<int:session_id>")
@api_auth_required
def cancel_session(session_id: int):
    """Cancels the session (status `canceled`); the row is kept."""
    session = queries.get_visible(session_id, current_user)
    operations.cancel_session(session, actor=current_user)
    return jsonify(session_json(session, current_user))


@bp.post("/training/sessions/<int:session_id>/start")
@api_auth_required
def start_session(session_id: int):
    session = queries.get_visible(session_id, current_user)
    try:
        operations.start_session(session, actor=current_user)
    except ServiceUnavailable:
        keep_work_before_error()  # the failed room attempt stays on record (shown to the instructor)
        raise
    return jsonify(session_json(session, current_user))


@bp.post("/training/sessions/<int:session_id>/end")
@api_auth_required
def end_session(session_id: int):
    session = queries.get_visible(session_id, current_user)
    operations.end_session(session, actor=current_user, reason=EndReason.INSTRUCTOR)
    return jsonify(session_json(session, current_user))
