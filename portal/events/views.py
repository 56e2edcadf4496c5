"""Pages of events: list, detail (each session with its join panel), create and edit forms (board members+)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from portal.accounts.auth import require_role
from portal.accounts.roles import Role
from portal.audit.operations import record
from portal.core import uploads, uploads_views
from portal.core.clock import now_utc
from portal.core.errors import ValidationFailed
from portal.core.forms import form_values as submitted_values
from portal.core.signals import answers
from portal.core.timezones import all_timezones, viewer_timezone
from portal.events import forms, operations, queries, rules
from portal.events.models import Event
from portal.events.operations import ENTITY
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


def _image_part(event: Event | None) -> tuple[uploads.Processed | None, bool, str, dict[str, str]]:
    """(the new image checked, whether to remove the current one, the alt text, errors): read before anything is
    written, so a refused image or a missing alt text leaves everything as it was."""
    errors: dict[str, str] = {}
    processed = None
    try:
        processed = uploads_views.read_image("image", max_side=forms.IMAGE_MAX_SIDE)
    except uploads.ImageRefused as exc:
        errors["image"] = str(exc)
    remove = request.form.get("remove_image") == "on" and processed is None
    alt = " ".join(request.form.get("image_alt", "").split())
    has_image = processed is not None or (event is not None and bool(event.image) and not remove)
    if "image" not in errors and (alt_error := forms.image_alt_error(alt, has_image=has_image)):
        errors["image_alt"] = alt_error
    return processed, remove, alt if has_image else "", errors


def _set_image(event: Event, processed: uploads.Processed | None, remove: bool, alt: str) -> None:
    """Store the new image (after every check passed) and record the change; the old file goes once the request
    succeeds, the new one again if it fails."""
    old = event.image
    if processed is not None:
        event.image = uploads.store("events", processed)
        uploads_views.discard_unless_kept("events", event.image)
    elif remove:
        event.image = None
    event.image_alt = alt
    db.session.flush()
    if event.image != old:
        uploads_views.delete_after_success("events", old)
        record("event.image", ENTITY, event.id, current_user, {"image": [old, event.image], "image_alt": alt})


def _save(event: Event | None):
    data, form_errors = forms.event_data(request.form)
    processed, remove, alt, image_errors = _image_part(event)
    form_errors.update(image_errors)
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
        _set_image(event, processed, remove, alt)
    except ValidationFailed as exc:
        db.session.rollback()
        return _render_form(event, submitted_values(), exc.fields, 422)
    flash(gettext("“%(title)s” is saved.", title=event.title), "success")
    return redirect(url_for("events.detail", event_id=event.id))


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(exc):
    """A form whose image is far over UPLOAD_MAX_BYTES (the body cap of core.uploads): the form again, empty of
    what was typed (the body was not read), with the message."""
    if request.endpoint not in ("events.create", "events.update") or not rules.may_events(current_user)["manage"]:
        raise exc
    event = None
    if request.endpoint == "events.update":
        event = queries.get_visible(request.view_args["event_id"], current_user)
    values = forms.event_values(event, viewer_timezone().key) if event else forms.new_values(viewer_timezone().key)
    return _render_form(event, values, {"image": uploads.too_large_message()}, 413)


@bp.get("/events/new", endpoint="new")
@require_role(Role.BOARD_MEMBER)
def new():
    return _render_form(None, forms.new_values(viewer_timezone().key), {})


@bp.post("/events/new", endpoint="create")
@uploads_views.accepts_upload
@require_role(Role.BOARD_MEMBER)
def create():
    return _save(None)


@bp.get("/events/<int:event_id>/edit", endpoint="edit")
@require_role(Role.BOARD_MEMBER)
def edit(event_id: int):
    event = queries.get_visible(event_id, current_user)
    return _render_form(event, forms.event_values(event, viewer_timezone().key), {})


@bp.post("/events/<int:event_id>/edit", endpoint="update")
@uploads_views.accepts_upload
@require_role(Role.BOARD_MEMBER)
def update(event_id: int):
    return _save(queries.get_visible(event_id, current_user))
