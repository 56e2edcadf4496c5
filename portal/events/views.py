"""Pages of events: list, detail (each session with its join panel), create and edit forms (board members+)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from portal.accounts.auth import require_role
from portal.accounts.roles import Role
from portal.core.clock import now_utc
from portal.core.errors import ValidationFailed
from portal.core.forms import form_values as submitted_values
from portal.core.signals import answers
from portal.core.timezones import all_timezones, viewer_timezone
from portal.events import forms, operations, queries, rules
from portal.events.models import Event
from portal.events.signals import event_page
from portal.extensions import db

bp = Blueprint("events", __name__)


@bp.app_context_processor
def viewer_may_with_events():
    """Every page's `may_events` (the event list and the event page offer creating and editing)."""
    return {"may_events": rules.may_events(current_user)}


@bp.get("/events", endpoint="index")
def index():
    now = now_utc()
    return render_template(
        "events/index.html", upcoming=queries.upcoming(current_user, now=now), past=queries.past(current_user, now=now)
    )


@bp.get("/events/<int:event_id>", endpoint="detail")
def detail(event_id: int):
    event = queries.get_visible(event_id, current_user)
    context: dict[str, Any] = {"sessions": [], "panels": {}}
    for part in answers(event_page.send(event, viewer=current_user)):
        context.update(part)
    sessions = context.pop("sessions")
    upcoming = [s for s in sessions if not s.is_final]  # soonest first; past ones (ended, canceled) folded away
    past = sorted((s for s in sessions if s.is_final), key=lambda s: (s.start_time, s.id), reverse=True)
    return render_template(
        "events/detail.html", event=event, sessions=upcoming, past_sessions=past, panel_group=True, **context
    )


# ------------------------------------------------------------------------------------------------ forms
def _render_form(event: Event | None, values: dict[str, Any], errors: dict[str, str], status: int = 200):
    return render_template(
        "events/form.html",
        event=event,
        values=values,
        errors=errors,
        timezones=all_timezones(),
        visibility_options=forms.VISIBILITY_OPTIONS,
    ), status


def _save(event: Event | None):
    data, form_errors = forms.event_data(request.form)
    if event is not None:
        for key in ("start_time", "end_time"):  # shown to the minute: unchanged stays exactly as stored
            stored = getattr(event, key)
            if data.get(key) == stored.replace(second=0, microsecond=0):
                data[key] = stored
    try:
        if form_errors:
            _, errors = operations.check_event_data(data, event=event)
            raise ValidationFailed({**errors, **form_errors})
        if event is None:
            event = operations.create_event(data, actor=current_user)
        else:
            operations.update_event(event, data, actor=current_user)
    except ValidationFailed as exc:
        db.session.rollback()
        return _render_form(event, submitted_values(), exc.fields, 422)
    flash(gettext("“%(title)s” is saved.", title=event.title), "success")
    return redirect(url_for("events.detail", event_id=event.id))


@bp.get("/events/new", endpoint="new")
@require_role(Role.BOARD_MEMBER)
def new():
    return _render_form(None, forms.new_values(viewer_timezone().key), {})


@bp.post("/events/new", endpoint="create")
@require_role(Role.BOARD_MEMBER)
def create():
    return _save(None)


@bp.get("/events/<int:event_id>/edit", endpoint="edit")
@require_role(Role.BOARD_MEMBER)
def edit(event_id: int):
    event = queries.get_visible(event_id, current_user)
    return _render_form(event, forms.event_values(event, viewer_timezone().key), {})


@bp.post("/events/<int:event_id>/edit", endpoint="update")
@require_role(Role.BOARD_MEMBER)
def update(event_id: int):
    return _save(queries.get_visible(event_id, current_user))
