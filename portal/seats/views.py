"""Pages and partials for joining: the join panel, seats, the join page and its waiting room, attendance, my schedule.

Every endpoint loads the session and checks, in Python, that the viewer may see it (else 404) before anything.
Responses that depend on who asks, or carry a token, are sent with Cache-Control: no-store.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.accounts.auth import require_login
from portal.config import current_settings
from portal.core.errors import DomainError, Forbidden, NotFound, Unauthorized, ValidationFailed
from portal.core.forms import safe_next
from portal.core.htmx import is_htmx
from portal.core.timezones import viewer_timezone
from portal.core.validation import is_id
from portal.core.web import expose_to_templates, no_store
from portal.extensions import db
from portal.seats import operations, queries
from portal.seats.attendance import attendance_csv as csv_of_attendance
from portal.seats.models import SeatStatus
from portal.seats.rules import Reason, SeatAction
from portal.training import queries as training_queries
from portal.training.ics import session_ics
from portal.training.models import SessionStatus, TrainingSession
from portal.training.rules import NOT_FOUND_MESSAGE, allowed_actions, can_see_attendance, can_see_presence
from portal.video.views import room_headers

bp = Blueprint("seats", __name__)
expose_to_templates(bp, SeatStatus, Reason, SeatAction)


# ------------------------------------------------------------------------------------------------ helpers
def visible_session(session_id: int) -> TrainingSession:
    return training_queries.get_visible(session_id, current_user)


def session_url(session_id: int) -> str:
    return url_for("training.detail", session_id=session_id)


def start_url(session_id: int) -> str:
    return url_for("training.start", session_id=session_id)


def login_url(next_url: str) -> str:
    return url_for("accounts.login", next=next_url)


def panel_for(session: TrainingSession, *, with_waitlist: bool = True) -> queries.JoinPanel:
    return queries.join_panels([session], current_user, with_waitlist=with_waitlist)[session.id]


def may_start(session: TrainingSession) -> bool:
    """The waiting room's Start button: the same answer as the session page's."""
    return allowed_actions(session, current_user)["start"]


def viewer_key() -> str:
    """Who sees a panel, as far as its rendering depends on them: the viewer and the zone times are shown in."""
    who = current_user.id if current_user.is_authenticated else "-"
    return f"{who}|{viewer_timezone().key}"


def panel_etag(panel: queries.JoinPanel) -> str:
    return panel.etag(viewer_key())


def in_group() -> bool:
    """A seat button of a panel on a page whose one poller refreshes every panel (the form says so)."""
    return request.form.get("group") == "1"


def render_panel(session: TrainingSession, notice: str | None = None, *, is_error: bool = False) -> Response:
    html = render_template(
        "seats/_join_panel.html",
        panel=panel_for(session),
        notice=notice,
        notice_is_error=is_error,
        panel_group=in_group(),
    )
    return no_store(html)


@bp.app_context_processor
def seat_links():
    return {
        "session_url": session_url,
        "start_url": start_url,
        "sessions_url": lambda: url_for("training.index"),
        "panel_etag": panel_etag,
    }


# ------------------------------------------------------------------------------------------------ the panel
def _not_modified(etag: str) -> Response:
    response = no_store(Response(status=304))
    response.set_etag(etag)
    return response


@bp.get("/sessions/<int:session_id>/panel")
def panel(session_id: int):
    """One panel polling itself (the session page). The shared part comes from the session's snapshot (no query
    while it is fresh), the viewer's seat from one query; an unchanged panel is a 304 to its ETag."""
    if not is_htmx():
        visible_session(session_id)
        return redirect(session_url(session_id), code=303)
    # the viewer first (not the proxy: the rules read it many times); the poll's reads then run in autocommit, on
    # a connection taken only if a statement must run (none while the snapshot and its seats are fresh)
    viewer = current_user._get_current_object()
    panel = queries.poll_panels([session_id], viewer, reads_only=True).get(session_id) if is_id(session_id) else None
    if panel is None:
        raise NotFound(NOT_FOUND_MESSAGE)
    etag = panel_etag(panel)
    if request.if_none_match.contains(etag):
        return _not_modified(etag)
    response = no_store(render_template("seats/_join_panel.html", panel=panel))
    response.set_etag(etag)
    return response


MAX_POLLED_PANELS = 200


def _polled_ids() -> list[int]:
    raw = request.args.get("ids", "")
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    ids = [int(part) for part in parts if part.isdigit() and is_id(int(part))]
    if not parts or len(ids) != len(parts) or len(ids) > MAX_POLLED_PANELS:
        raise ValidationFailed({"ids": f"Give 1 to {MAX_POLLED_PANELS} session ids, separated by commas."})
    return list(dict.fromkeys(ids))


@bp.get("/sessions/panels")
def poll_panels():
    """The one poll of a page with several panels (an event page, My schedule). If-None-Match lists the ETags of
    the panels the page shows; the answer is 304 when none changed, else the changed panels and the page's poller
    (its interval, the soonest any panel needs), each swapped in out of band. Sessions the viewer may not see, or
    that are gone, are left out."""
    ids = _polled_ids()
    if not is_htmx():
        return redirect(url_for("training.index"), code=303)
    panels = queries.poll_panels(ids, current_user._get_current_object(), reads_only=True)
    etags = {session_id: panel_etag(p) for session_id, p in panels.items()}
    changed = [panels[i] for i in panels if not request.if_none_match.contains(etags[i])]
    if not changed:
        return no_store(Response(status=304))
    return no_store(render_template("seats/_panels_poll.html", changed=changed, panels=list(panels.values())))


# ------------------------------------------------------------------------------------------------ seats
@bp.post("/sessions/<int:session_id>/seat")
@require_login
def reserve(session_id: int):
    session = visible_session(session_id)
    try:
        seat = operations.reserve(session, current_user, waitlist=request.form.get("waitlist") == "1")
    except DomainError as exc:
        return _seat_refused(session, exc)
    if seat.status == SeatStatus.CONFIRMED.value:
        notice = gettext("You have a seat.")
    else:
        notice = gettext(
            "You are on the waitlist (place %(place)s).", place=queries.waitlist_position(session, current_user)
        )
    return _seat_done(session, notice)


@bp.post("/sessions/<int:session_id>/seat/cancel")
@require_login
def cancel_seat(session_id: int):
    session = visible_session(session_id)
    held = operations.seat_of(session, current_user)
    try:
        operations.cancel_seat(session, current_user)
    except DomainError as exc:
        return _seat_refused(session, exc)
    was_waitlisted = held is not None and held.status == SeatStatus.WAITLISTED.value
    return _seat_done(
        session, gettext("You left the waitlist.") if was_waitlisted else gettext("Your seat is released.")
    )


def _seat_done(session: TrainingSession, notice: str):
    if is_htmx():
        return render_panel(session, notice)
    flash(notice, "success")
    return redirect(safe_next(request.form.get("next"), session_url(session.id)), code=303)


def _seat_refused(session: TrainingSession, exc: DomainError):
    """A refused seat change on a visible session: say why next to the panel, lose nothing."""
    db.session.rollback()
    if exc.status == 404:
        raise exc
    if is_htmx():  # 200, so htmx swaps the fresh panel in, with the reason in it
        return render_panel(session, exc.message, is_error=True)
    flash(exc.message, "error")
    return redirect(safe_next(request.form.get("next"), session_url(session.id)), code=303)


# ------------------------------------------------------------------------------------------------ join
@bp.get("/sessions/<int:session_id>/join")
def join_page(session_id: int):
    """The join page: the reason if one may not join, the waiting room, or the way into a live room."""
    session = visible_session(session_id)
    panel = panel_for(session)
    if panel.eligibility.reason == Reason.LOGIN_REQUIRED:
        return redirect(login_url(request.path))
    return no_store(
        render_template("seats/join.html", session=session, panel=panel, grant=None, may_start=may_start(session))
    )


@bp.post("/sessions/<int:session_id>/join")
def join(session_id: int):
    session = visible_session(session_id)
    window = current_settings().join_window
    try:
        operations.prepare_join(session, current_user, window=window)
    except DomainError as exc:
        if exc.code == Reason.LOGIN_REQUIRED:
            db.session.rollback()
            return redirect(login_url(url_for("seats.join_page", session_id=session_id)))
        raise
    db.session.commit()  # the seat is kept; the provider calls below must not hold its row lock
    if session.status != SessionStatus.LIVE:  # the waiting room (GET, so a reload never posts again)
        return redirect(url_for("seats.join_page", session_id=session_id), code=303)
    admission = operations.admit(session, current_user, window=window)
    response = make_response(
        render_template("seats/join.html", session=session, panel=None, grant=admission.grant, user=current_user)
    )
    return room_headers(no_store(response), admission.grant)


@bp.get("/sessions/<int:session_id>/join/status")
def waiting(session_id: int):
    """The waiting room's poller: itself again every 2 s while scheduled; once live, a form that enters the room."""
    session = visible_session(session_id)
    if not is_htmx():
        return redirect(url_for("seats.join_page", session_id=session_id), code=303)
    return no_store(
        render_template(
            "seats/_waiting.html",
            session=session,
            panel=panel_for(session, with_waitlist=False),
            may_start=may_start(session),
        )
    )


@bp.post("/sessions/<int:session_id>/leave")
def leave(session_id: int):
    """The leave beacon (navigator.sendBeacon on pagehide; CSRF token in the form data). Always 204."""
    session = db.session.get(TrainingSession, session_id) if is_id(session_id) else None
    if session is not None and current_user.is_authenticated:
        operations.record_leave(session, current_user)
    return Response(status=204)


# ------------------------------------------------------------------------------------------------ attendance
def _attendance_session(session_id: int) -> TrainingSession:
    session = visible_session(session_id)
    if not current_user.is_authenticated:
        raise NotFound(NOT_FOUND_MESSAGE)
    if not can_see_attendance(session, current_user):
        raise Forbidden(_l("Only the session's instructors, board members and admins see its attendance."))
    return session


@bp.get("/sessions/<int:session_id>/attendance")
def attendance(session_id: int):
    session = _attendance_session(session_id)
    if not is_htmx():
        return redirect(session_url(session_id), code=303)
    return no_store(render_template("seats/_attendance.html", session=session, rows=queries.attendance_rows(session)))


@bp.get("/sessions/<int:session_id>/attendance.csv")
def attendance_csv(session_id: int):
    """Every seat holder and everyone who joined, no-shows marked (portal/seats/attendance.py), cells defused."""
    session = _attendance_session(session_id)
    body = csv_of_attendance(queries.attendance_rows(session))
    response = no_store(Response(body, mimetype="text/csv"), private=True)
    response.headers["Content-Disposition"] = f'attachment; filename="attendance-session-{session.id}.csv"'
    return response


# ------------------------------------------------------------------------------------------------ my schedule
@bp.get("/my/schedule")
@require_login
def my_schedule():
    """Upcoming sessions (not over yet, soonest first) with their panels, all refreshed by one poller; the last
    PAST_SHOWN ended ones folded away below, without panels."""
    entries = queries.my_schedule(current_user)
    panels = queries.join_panels([e.session for e in entries], current_user)
    past = queries.my_past_sessions(current_user)
    return no_store(
        render_template(
            "seats/my_schedule.html",
            entries=entries,
            past=past,
            past_shown=queries.PAST_SHOWN,
            panels=panels,
            panel_group=True,
        )
    )


@bp.get("/sessions/<int:session_id>/calendar.ics")
def calendar(session_id: int):
    session = visible_session(session_id)
    body = session_ics(session, base_url=current_settings().BASE_URL)
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="session-{session.id}.ics"'
    return response


# ------------------------------------------------------------------------------------------------ presence
@bp.get("/sessions/<int:session_id>/room/presence")
def presence(session_id: int):
    """Who is in a development room now. Only for people who joined it, its instructor and board members."""
    if not current_user.is_authenticated:
        raise Unauthorized(_l("Sign in to see who is in the room."), code="login_required")
    session = db.session.get(TrainingSession, session_id) if is_id(session_id) else None
    if session is None or not can_see_presence(
        session, current_user, has_joined=queries.has_joined(session, current_user)
    ):
        raise NotFound(_l("No such room."))
    template = "seats/_presence.html" if is_htmx() else "seats/presence.html"
    return no_store(render_template(template, session=session, present=queries.present_in_room(session)), private=True)
