"""JSON API of standing bookings: POST / DELETE /api/training/series/<id>/booking (the caller's own)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user

from portal.accounts.auth import api_auth_required
from portal.seats import standing
from portal.training.series import get_visible

bp = Blueprint("standing_api", __name__, url_prefix="/api")


@bp.post("/training/series/<int:series_id>/booking")
@api_auth_required
def book(series_id: int):
    series = get_visible(series_id, current_user)
    was_open = standing.booking_of(series, current_user) is not None
    _booking, seats = standing.book_series(series, current_user)
    body = {
        "series_id": series.id,
        "user_id": current_user.id,
        "seats": [{"session_id": seat.session_id, "status": seat.status} for seat in seats],
    }
    return jsonify(body), 200 if was_open else 201


@bp.delete("/training/series/<int:series_id>/booking")
@api_auth_required
def end(series_id: int):
    series = get_visible(series_id, current_user)
    released = standing.end_booking(series, current_user)
    return jsonify({"series_id": series.id, "user_id": current_user.id, "released_session_ids": released})
