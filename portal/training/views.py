"""Pages of training sessions: home, list, session page, scheduling and edit forms, lifecycle buttons, my sessions.

Thin: load, check access (in Python), call the operation, commit once, redirect (PRG) or re-render with errors.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from portal.accounts.auth import require_role
from portal.accounts.models import User
from portal.accounts.roles import ROLES, Role
from portal.core.clock import now_utc
from portal.core.errors import Forbidden, ServiceUnavailable, ValidationFailed
from portal.core.forms import form_values as submitted_values
from portal.core.signals import answers
from portal.core.timezones import all_timezones, viewer_timezone
from portal.core.web import expose_to_templates, no_store
from portal.events import queries as events
from portal.events import rules as event_rules
from portal.extensions import db
from portal.training import forms, operations, queries, rooms, rules, signals
from portal.training.models import RoomStatus, SessionStatus, TrainingSession
from portal.video.models import RecordingStatus

bp = Blueprint("training", __name__)
expose_to_templates(bp, SessionStatus, RoomStatus, RecordingStatus)


@bp.app_context_processor
def viewer_may_with_sessions():
    """Every page's `may_sessions` (the home, the lists and the event page offer scheduling)."""
    return {"may_sessions": rules.may_sessions(current_user)}


# ------------------------------------------------------------------------------------------------ reading
def _shown(sessions: list[TrainingSession]) -> dict[str, Any]:
    """What the packages above training add to a page that lists `sessions` (their join panels)."""
    context: dict[str, Any] = {"panels": {}}
    for part in answers(signals.sessions_shown.send(sessions, viewer=current_user)):
        context.update(part)
    return context


@bp.get("/", endpoint="home")
def home():
    now = now_utc()
    sessions = queries.upcoming(current_user, now=now, limit=12)
    return render_template(
        "home.html",
        sessions=sessions,
        **_shown(sessions),
        events=events.upcoming(current_user, now=now, limit=6),
    )


# Lists are read a page at a time (LIMIT/OFFSET along an index: a page reads its rows and those of the pages before
# it, never the whole list) with "next page" links instead of a count: history does not slow them.
PAGE_SIZE = 50
LAST_PAGE = 1000


def _page_number() -> int:
    """The `page` query parameter (1, 2, ...); anything else is the first page."""
    raw = request.args.get("page", "")
    return int(raw) if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= LAST_PAGE else 1


def _page_of(fetch, page: int, **kwargs: Any) -> tuple[list[TrainingSession], bool]:
    """Page `page` of `fetch(limit=, offset=, **kwargs)`, and whether another page follows (one row more is read)."""
    rows = fetch(limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE, **kwargs)
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


@bp.get("/sessions", endpoint="index")
def index():
    show_past = request.args.get("past") == "1"
    page = _page_number()
    fetch = queries.past if show_past else queries.upcoming
    sessions, more = _page_of(fetch, page, viewer=current_user, now=now_utc())
    return render_template(
        "training/index.html", sessions=sessions, show_past=show_past, page=page, more=more, **_shown(sessions)
    )


@bp.get("/sessions/<int:session_id>", endpoint="detail")
def detail(session_id: int):
    session = queries.get_visible(session_id, current_user)
    context = _session_context(session)
    page = render_template("training/session.html", **context)
    # the provider's link is for this viewer alone: no cache may keep the page for anyone else
    return no_store(page, private=True) if context["recording_link"] else page


def _session_context(session: TrainingSession) -> dict[str, Any]:
    context: dict[str, Any] = {
        "session": session,
        "event": session.event if session.event and event_rules.can_view(session.event, current_user) else None,
        "recording_link": rooms.recording_link(session, current_user),
        "may": {
            **rules.allowed_actions(session, current_user),
            "watch": rules.can_watch_recording(session, current_user),
        },
    }
    for part in answers(signals.session_page.send(session, viewer=current_user)):
        context.update(part)
    return context


@bp.get("/my/sessions", endpoint="my_sessions")
@require_role(Role.INSTRUCTOR)
def my_sessions():
    """What the instructor teaches: the next sessions (the first PAGE_SIZE), then the past a page at a time."""
    include_archived = request.args.get("archived") == "1"
    page = _page_number()
    now = now_utc()
    mine = {"viewer": current_user, "now": now, "instructor_id": current_user.id}
    upcoming, more_upcoming = _page_of(queries.upcoming, 1, **mine)
    past, more = _page_of(queries.past, page, include_archived=include_archived, **mine)
    return render_template(
        "training/my_sessions.html",
        now=now,
        upcoming=upcoming,
        more_upcoming=more_upcoming,
        past=past,
        page=page,
        more=more,
        include_archived=include_archived,
    )


# ------------------------------------------------------------------------------------------------ forms
def _form_context(**extra: Any) -> dict[str, Any]:
    context = {
        "timezones": all_timezones(),
        "events": events.choices(),
        "instructors": _instructors() if rules.can_assign_instructor(current_user) else None,
    }
    return {**context, **extra}


def _instructors() -> list[User]:
    roles = [r.value for r in ROLES if r.at_least(Role.INSTRUCTOR)]
    return list(
        db.session.scalars(select(User).where(User.role.in_(roles), User.is_active.is_(True)).order_by(User.name))
    )


def _invalid(template: str, errors: dict[str, str], **context: Any):
    db.session.rollback()
    return render_template(template, errors=errors, values=submitted_values(), **_form_context(**context)), 422


@bp.get("/sessions/new", endpoint="new")
@require_role(Role.INSTRUCTOR)
def new():
    values = {**forms.new_values(viewer_timezone().key), "instructor_id": current_user.id}
    if request.args.get("event_id", "").isdigit():
        values["event_id"] = request.args["event_id"]
    return render_template("training/form.html", errors={}, values=values, session=None, **_form_context())


@bp.post("/sessions/new", endpoint="create")
@require_role(Role.INSTRUCTOR)
def create():
    data, form_errors = forms.session_data(request.form, allow_instructor=rules.can_assign_instructor(current_user))
    try:
        if form_errors:
            _, errors = operations.check_session_data(data, actor=current_user)
            raise ValidationFailed({**errors, **form_errors})
        session = operations.create_session(data, actor=current_user)
    except ValidationFailed as exc:
        return _invalid("training/form.html", exc.fields, session=None)
    flash(f"“{session.title}” is scheduled. Its video room is being prepared.", "success")
    return redirect(url_for("training.detail", session_id=session.id))


def _editable(session_id: int) -> TrainingSession:
    session = queries.get_visible(session_id, current_user)
    if not rules.can_edit(session, current_user):
        raise Forbidden("You may only change your own sessions.")
    return session


@bp.get("/sessions/<int:session_id>/edit", endpoint="edit")
@require_role(Role.INSTRUCTOR)
def edit(session_id: int):
    session = _editable(session_id)
    operations.require_state(session, "edit")
    values = forms.form_values(session, viewer_timezone().key)
    return render_template("training/form.html", errors={}, values=values, session=session, **_form_context())


@bp.post("/sessions/<int:session_id>/edit", endpoint="update")
@require_role(Role.INSTRUCTOR)
def update(session_id: int):
    session = _editable(session_id)
    data, form_errors = forms.session_data(request.form, allow_instructor=rules.can_assign_instructor(current_user))
    if data.get("start_time") == session.start_time.replace(second=0, microsecond=0):
        data["start_time"] = session.start_time  # shown to the minute; unchanged
    try:
        if form_errors:
            operations.require_state(session, "edit")
            _, errors = operations.check_session_data(data, actor=current_user, session=session)
            raise ValidationFailed({**errors, **form_errors})
        operations.update_session(session, data, actor=current_user)
    except ValidationFailed as exc:
        return _invalid("training/form.html", exc.fields, session=session)
    flash("Your changes are saved.", "success")
    return redirect(url_for("training.detail", session_id=session.id))


# ------------------------------------------------------------------------------------------------ lifecycle
@bp.get("/sessions/<int:session_id>/cancel", endpoint="confirm_cancel")
@require_role(Role.INSTRUCTOR)
def confirm_cancel(session_id: int):
    session = _editable(session_id)
    operations.require_state(session, "cancel")
    return render_template("training/cancel.html", session=session)


@bp.post("/sessions/<int:session_id>/cancel", endpoint="cancel")
@require_role(Role.INSTRUCTOR)
def cancel(session_id: int):
    session = queries.get_visible(session_id, current_user)
    operations.cancel_session(session, actor=current_user)
    flash(f"“{session.title}” is canceled. Seat holders are told by email.", "success")
    return redirect(url_for("training.detail", session_id=session.id))


@bp.post("/sessions/<int:session_id>/start", endpoint="start")
@require_role(Role.INSTRUCTOR)
def start(session_id: int):
    session = queries.get_visible(session_id, current_user)
    try:
        operations.start_session(session, actor=current_user)
    except ServiceUnavailable as exc:
        flash(f"The session was not started: {exc.message}", "error")
        return redirect(url_for("training.detail", session_id=session.id))
    flash("The session is live. Members can join now.", "success")
    return redirect(url_for("training.detail", session_id=session.id))


@bp.post("/sessions/<int:session_id>/end", endpoint="end")
@require_role(Role.INSTRUCTOR)
def end(session_id: int):
    session = queries.get_visible(session_id, current_user)
    operations.end_session(session, actor=current_user)
    flash("The session has ended; the room is closed for everyone.", "success")
    return redirect(url_for("training.detail", session_id=session.id))
