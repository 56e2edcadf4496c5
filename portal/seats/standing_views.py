"""The standing booking from a session page: "Book the whole series" and "End standing booking" on an occurrence
of a training series (the JSON API is standing_api). The page shows the buttons through training's session_page
signal (`standing` in its context); the buttons post here, and the answer is a redirect back with a flash (PRG)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

from portal.accounts.auth import require_login
from portal.core.errors import DomainError, NotFound
from portal.extensions import db
from portal.seats import rules, standing
from portal.seats.models import SeatStatus
from portal.training import queries as training_queries
from portal.training import signals as training_signals
from portal.training.models import TrainingSession
from portal.training.series import get_visible
from portal.training.series_models import TrainingSeries

bp = Blueprint("standing", __name__)


@training_signals.session_page.connect
def standing_buttons(session: TrainingSession, *, viewer, **_: Any) -> dict[str, Any]:
    """`standing` for an occurrence's page: whether the viewer holds a standing booking of its series, and whether
    they may open one (they may reserve a seat on its next occurrence). Nothing for others."""
    if session.series_id is None or not rules.is_signed_in(viewer):
        return {}
    try:
        series = get_visible(session.series_id, viewer)
    except NotFound:
        return {}
    booked = standing.booking_of(series, viewer) is not None
    upcoming = standing.future_occurrences(series)
    may_book = not booked and bool(upcoming) and rules.reserve_refusal(upcoming[0], viewer) is None
    return {"standing": {"series_id": series.id, "booked": booked, "may_book": may_book, "upcoming": len(upcoming)}}


def _session_and_series(session_id: int) -> tuple[TrainingSession, TrainingSeries | None]:
    """The session (404 unless the viewer may see it) and its series; None, with the message flashed, when it is not
    part of a weekly class."""
    session = training_queries.get_visible(session_id, current_user)
    if session.series_id is None:
        flash(gettext("This session is not part of a weekly class."), "error")
        return session, None
    return session, get_visible(session.series_id, current_user)


def _back(session: TrainingSession):
    return redirect(url_for("training.detail", session_id=session.id), code=303)


@bp.post("/sessions/<int:session_id>/standing-booking")
@require_login
def book(session_id: int):
    session, series = _session_and_series(session_id)
    if series is None:
        return _back(session)
    try:
        _booking, seats = standing.book_series(series, current_user)
    except DomainError as exc:
        db.session.rollback()
        if exc.status == 404:
            raise
        flash(exc.message, "error")
        return _back(session)
    waitlisted = sum(1 for seat in seats if seat.status != SeatStatus.CONFIRMED.value)
    notice = ngettext(
        "You booked the whole series: %(num)d session", "You booked the whole series: %(num)d sessions", len(seats)
    )
    notice += gettext(", %(num)d of them on the waitlist.", num=waitlisted) if waitlisted else "."
    flash(notice + " " + gettext("Sessions added later are booked for you too."), "success")
    return _back(session)


@bp.post("/sessions/<int:session_id>/standing-booking/end")
@require_login
def end(session_id: int):
    session, series = _session_and_series(session_id)
    if series is None:
        return _back(session)
    try:
        released = standing.end_booking(series, current_user)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _back(session)
    count = len(released)
    flash(
        ngettext(
            "Your standing booking has ended; %(num)d seat released.",
            "Your standing booking has ended; %(num)d seats released.",
            count,
        ),
        "success",
    )
    return _back(session)
