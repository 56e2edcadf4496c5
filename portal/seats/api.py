"""JSON API for joining: can-join (the eligibility), join (a token for the caller only), seats."""

from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for
from flask_login import current_user

from portal.accounts.auth import api_auth_required
from portal.config import current_settings
from portal.core.api import json_body
from portal.core.errors import ValidationFailed
from portal.core.web import no_store
from portal.extensions import db
from portal.seats import operations, queries
from portal.seats.models import SeatStatus
from portal.seats.views import panel_for, visible_session

bp = Blueprint("seats_api", __name__, url_prefix="/api")


@bp.get("/training/sessions/<int:session_id>/can-join")
def can_join(session_id: int):
    session = visible_session(session_id)
    elig = panel_for(session).eligibility
    return no_store(jsonify({"session_id": session.id, **elig.to_json()}))


@bp.post("/training/sessions/<int:session_id>/join")
def join(session_id: int):
    """Re-check eligibility, take a seat if needed, and return this caller's participant token."""
    session = visible_session(session_id)
    window = current_settings().join_window
    operations.prepare_join(session, current_user, window=window)
    db.session.commit()  # the seat is kept; the provider calls below must not hold its row lock
    grant = operations.admit(session, current_user, window=window).grant
    return no_store(
        jsonify(
            {
                "provider": grant.provider,
                "room_id": grant.room_id,
                "token": grant.token,
                "join_url": current_settings().BASE_URL.rstrip("/") + url_for("seats.join_page", session_id=session.id),
                "status": session.status,
            }
        )
    )


@bp.post("/training/sessions/<int:session_id>/seat")
@api_auth_required
def reserve(session_id: int):
    """{"waitlist": true} (default) takes a waitlist place when the session is full; false answers 409 full."""
    session = visible_session(session_id)
    body = json_body() if _has_body() else {}
    waitlist = body.get("waitlist", True)
    if not isinstance(waitlist, bool):
        raise ValidationFailed({"waitlist": "Must be true or false."})
    seat = operations.reserve(session, current_user, waitlist=waitlist)
    return _seat_json(session, seat.status), 201 if seat.status == SeatStatus.CONFIRMED.value else 202


@bp.delete("/training/sessions/<int:session_id>/seat")
@api_auth_required
def cancel(session_id: int):
    session = visible_session(session_id)
    seat = operations.cancel_seat(session, current_user)
    return _seat_json(session, seat.status)


def _has_body() -> bool:
    return bool(request.get_data(cache=True))


def _seat_json(session, status: str):
    position = queries.waitlist_position(session, current_user) if status == SeatStatus.WAITLISTED.value else None
    return jsonify(
        {
            "session_id": session.id,
            "status": status,
            "waitlist_position": position,
            "seats_taken": session.seats_taken,
            "capacity": session.capacity,
        }
    )
