"""JSON API of training sessions: /api/training/sessions (the seed's contract, one name per field)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for
from flask_login import current_user

from portal.accounts.auth import api_auth_required, api_viewer
from portal.core.api import bool_arg, created, int_arg, json_body
from portal.core.clock import now_utc
from portal.core.errors import BadRequest, Forbidden, ServiceUnavailable, ValidationFailed
from portal.core.validation import MAX_ID, parse_aware_datetime, storable_text
from portal.core.web import keep_work_before_error
from portal.training import operations, queries, rules
from portal.training.models import EndReason, SessionStatus
from portal.training.serializers import session_json

bp = Blueprint("training_api", __name__, url_prefix="/api")
MAX_PAGE = 100


# The query parameters of the list (documented in portal/openapi/operations.py); any other is a 400.
LIST_PARAMS = frozenset(
    {
        "status",
        "instructor_id",
        "event_id",
        "series_id",
        "upcoming",
        "include_archived",
        "sort_by",
        "sort_order",
        "limit",
        "offset",
        "q",
        "tag",
        "from",
        "to",
    }
)
REPEATABLE_PARAMS = frozenset({"tag"})


def _choice(name: str, allowed, default: str | None) -> str | None:
    value = request.args.get(name) or default
    if value is not None and value not in allowed:
        raise BadRequest(f"Query parameter {name!r} must be one of: {', '.join(allowed)}.", code="malformed")
    return value


def _words() -> tuple[str, ...]:
    text = request.args.get("q", "")
    if len(text) > queries.Q_MAX or not storable_text(text):
        raise BadRequest(f"Query parameter 'q' must be at most {queries.Q_MAX} characters of text.", code="malformed")
    return queries.search_words(text)


def _tags() -> tuple[str, ...]:
    given = request.args.getlist("tag")
    if len(given) > rules.TAGS_MAX or any(len(tag) > rules.TAG_MAX_LENGTH for tag in given):
        message = f"Give at most {rules.TAGS_MAX} tags of at most {rules.TAG_MAX_LENGTH} characters."
        raise BadRequest(f"Query parameter 'tag': {message}", code="malformed")
    tags, problem = rules.check_tags([tag for tag in given if tag.strip()])  # an empty one is absent
    if problem:
        raise BadRequest(f"Query parameter 'tag': {problem}", code="malformed")
    return tuple(tags or ())


def _moment(name: str):
    raw = request.args.get(name, "")
    if not raw.strip():
        return None
    value, problem = parse_aware_datetime(raw)
    if problem:
        raise BadRequest(f"Query parameter {name!r}: {problem}", code="malformed")
    return value


def _list_query() -> tuple[queries.SessionFilters, int, int]:
    """The list's filters, limit and offset; or one 400 whose `fields` names every unknown, repeated or
    malformed parameter."""
    fields = {name: "Unknown query parameter." for name in request.args if name not in LIST_PARAMS}
    for name in request.args:
        if name in LIST_PARAMS and name not in REPEATABLE_PARAMS and len(request.args.getlist(name)) > 1:
            fields[name] = "Give this query parameter once."
    values = {}
    readers = {
        "status": lambda: _choice("status", [s.value for s in SessionStatus], None),
        "instructor_id": lambda: int_arg("instructor_id", None, minimum=1, maximum=MAX_ID),
        "event_id": lambda: int_arg("event_id", None, minimum=1, maximum=MAX_ID),
        "series_id": lambda: int_arg("series_id", None, minimum=1, maximum=MAX_ID),
        "upcoming": lambda: bool_arg("upcoming"),
        "include_archived": lambda: bool_arg("include_archived"),
        "sort_by": lambda: _choice("sort_by", list(queries.SORT_COLUMNS), "start_time"),
        "sort_order": lambda: _choice("sort_order", list(queries.SORT_ORDERS), "asc"),
        "words": _words,
        "tags": _tags,
        "start_from": lambda: _moment("from"),
        "start_to": lambda: _moment("to"),
        "limit": lambda: int_arg("limit", 20, minimum=1, maximum=MAX_PAGE),
        "offset": lambda: int_arg("offset", 0, minimum=0),
    }
    names = {"words": "q", "tags": "tag", "start_from": "from", "start_to": "to"}
    for key, read in readers.items():
        try:
            values[key] = read()
        except BadRequest as problem:
            fields.setdefault(names.get(key, key), problem.message)
    if values.get("start_from") and values.get("start_to") and values["start_to"] <= values["start_from"]:
        fields.setdefault("to", "Query parameter 'to' must be later than 'from'.")
    if fields:
        raise BadRequest(
            "Some query parameters are unknown or malformed: " + ", ".join(sorted(fields)) + ".",
            code="malformed",
            fields=fields,
        )
    limit, offset = values.pop("limit"), values.pop("offset")
    return queries.SessionFilters(**values), limit, offset


@bp.get("/training/sessions")
def list_sessions():
    who = api_viewer()
    filters, limit, offset = _list_query()
    page = queries.list_sessions(who, filters, limit=limit, offset=offset, now=now_utc())
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


@bp.put("/training/sessions/<int:session_id>/lead")
@api_auth_required
def hand_over(session_id: int):
    """A substitute: `{"instructor_id": N}` (and optionally `"keep_as_assistant": true`) makes N the lead."""
    session = queries.get_visible(session_id, current_user)
    if not rules.can_hand_over(session, current_user):
        raise Forbidden("Only the lead instructor, board members and admins may hand a session over.")
    body = json_body()
    unknown = {key: "Unknown field." for key in body if key not in ("instructor_id", "keep_as_assistant")}
    if unknown:
        raise ValidationFailed(unknown)
    operations.hand_over(
        session, body.get("instructor_id"), actor=current_user, keep_as_assistant=body.get("keep_as_assistant", False)
    )
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
