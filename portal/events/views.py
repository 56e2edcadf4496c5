"""Pages of events: list, detail (each session with its join panel), create and edit forms (board members+)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.accounts.auth import require_role
from portal.accounts.roles import Role
from portal.core.clock import now_utc
from portal.core.errors import ValidationFailed
from portal.core.forms import form_values as submitted_values
from portal.core.timezones import all_timezones, parse_local, to_zone, viewer_timezone
from portal.events import operations, queries
from portal.events.models import Event, Visibility
from portal.extensions import db
from portal.seats import queries as seats
from portal.training import queries as sessions

bp = Blueprint("events", __name__)
VISIBILITY_OPTIONS = [(Visibility.MEMBERS.value, "Members only"), (Visibility.PUBLIC.value, "Public: everyone")]


@bp.get("/events", endpoint="index")
def index():
    now = now_utc()
    return render_template("events/index.html", upcoming=queries.upcoming(current_user, now=now),
                           past=queries.past(current_user, now=now))


@bp.get("/events/<int:event_id>", endpoint="detail")
def detail(event_id: int):
    event = queries.get_visible(event_id, current_user)
    items = sessions.for_event(event.id, current_user)
    return render_template("events/detail.html", event=event, sessions=items,
                           panels=seats.join_panels(items, current_user))


# ------------------------------------------------------------------------------------------------ forms
def event_data(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Form values -> operation values; the local start and end are read in the chosen time zone."""
    data: dict[str, Any] = {key: form.get(key, "") for key in ("title", "description", "location", "visibility")}
    errors: dict[str, str] = {}
    for key in ("start", "end"):
        date_text, clock_text = form.get(f"{key}_date", "").strip(), form.get(f"{key}_clock", "").strip()
        if not date_text and not clock_text:
            errors[f"{key}_time"] = f"Enter the date and time the event {key}s."
            continue
        try:
            data[f"{key}_time"] = parse_local(date_text, clock_text, form.get("timezone", ""))
        except ValueError as exc:
            errors[f"{key}_time"] = str(exc)
    return data, errors


def event_values(event: Event, zone: str) -> dict[str, Any]:
    start, end = to_zone(event.start_time, zone), to_zone(event.end_time, zone)
    return {"title": event.title, "description": event.description, "location": event.location,
            "visibility": event.visibility, "timezone": zone,
            "start_date": f"{start:%Y-%m-%d}", "start_clock": f"{start:%H:%M}",
            "end_date": f"{end:%Y-%m-%d}", "end_clock": f"{end:%H:%M}"}


def _render_form(event: Event | None, values: dict[str, Any], errors: dict[str, str], status: int = 200):
    return render_template("events/form.html", event=event, values=values, errors=errors,
                           timezones=all_timezones(), visibility_options=VISIBILITY_OPTIONS), status


def _save(event: Event | None):
    data, form_errors = event_data(request.form)
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
    db.session.commit()
    flash(f"“{event.title}” is saved.", "success")
    return redirect(url_for("events.detail", event_id=event.id))


@bp.get("/events/new", endpoint="new")
@require_role(Role.BOARD_MEMBER)
def new():
    return _render_form(None, {"timezone": viewer_timezone().key, "visibility": Visibility.MEMBERS.value}, {})


@bp.post("/events/new", endpoint="create")
@require_role(Role.BOARD_MEMBER)
def create():
    return _save(None)


@bp.get("/events/<int:event_id>/edit", endpoint="edit")
@require_role(Role.BOARD_MEMBER)
def edit(event_id: int):
    event = queries.get_visible(event_id, current_user)
    return _render_form(event, event_values(event, viewer_timezone().key), {})


@bp.post("/events/<int:event_id>/edit", endpoint="update")
@require_role(Role.BOARD_MEMBER)
def update(event_id: int):
    return _save(queries.get_visible(event_id, current_user))
