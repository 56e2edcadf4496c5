"""Instructor profile pages (issue 14): `/instructors/<id>` with photo, bio and the upcoming sessions they lead or
assist; the bio and photo form of /account.

Who sees a page: anyone who may see at least one session (any status, past ones too) the person leads or assists:
so an instructor with a public session has a public page, one who teaches only members-only sessions is seen
by members and above. The person themselves and admins always see it. Anyone else gets the same 404 as for an id
that does not exist (nothing leaks). The sessions listed are those the viewer may see.

Who edits: a person with the instructor role or above edits their own bio and photo on /account (`POST
/account/profile-page`); a photo is removed by its owner or an admin (`POST /instructors/<id>/photo/delete`).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from portal.accounts import profile
from portal.accounts.auth import require_login, require_role
from portal.accounts.models import User
from portal.accounts.roles import Role, has_role
from portal.config import current_settings
from portal.core import uploads, uploads_views
from portal.core.clock import now_utc
from portal.core.errors import Forbidden, NotFound, ValidationFailed
from portal.core.validation import is_id
from portal.core.web import no_store
from portal.extensions import db
from portal.training import queries
from portal.training.models import SessionAssistant, TrainingSession

bp = Blueprint("instructors", __name__)

NOT_FOUND = _l("There is no such instructor page.")
UPCOMING_LIMIT = 20


def _teaches(user_id: int) -> sa.ColumnElement[bool]:
    assisted = sa.select(SessionAssistant.session_id).where(SessionAssistant.user_id == user_id)
    return sa.or_(TrainingSession.instructor_id == user_id, TrainingSession.id.in_(assisted))


def visible_instructor(user_id: int, viewer) -> User:
    """The person whose page `viewer` may see (see the module's docstring), else NotFound."""
    person = db.session.get(User, user_id) if is_id(user_id) else None
    if person is None or not person.is_active:
        raise NotFound(NOT_FOUND)
    if viewer.is_authenticated and (viewer.id == person.id or has_role(viewer, Role.ADMIN)):
        return person
    seen = db.session.scalar(
        sa.select(TrainingSession.id).where(queries.visible_to(viewer), _teaches(person.id)).limit(1)
    )
    if seen is None:
        raise NotFound(NOT_FOUND)
    return person


def upcoming_sessions(person: User, viewer) -> list[TrainingSession]:
    now = now_utc()
    stmt = (
        sa.select(TrainingSession)
        .where(
            queries.visible_to(viewer),
            _teaches(person.id),
            TrainingSession.archived_at.is_(None),
            TrainingSession.status.in_(queries.ACTIVE_STATUSES),
            TrainingSession.end_time > now,
        )
        .order_by(TrainingSession.start_time, TrainingSession.id)
        .limit(UPCOMING_LIMIT)
    )
    return list(db.session.scalars(stmt))


@bp.get("/instructors/<int:user_id>", endpoint="page")
def page(user_id: int):
    person = visible_instructor(user_id, current_user)
    return render_template(
        "training/instructor.html",
        person=person,
        photo_url=uploads.upload_url("photos", person.photo),
        sessions=upcoming_sessions(person, current_user),
        may_remove_photo=bool(person.photo) and _may_remove_photo(person),
    )


# ------------------------------------------------------------------------------------------------ editing
def _may_remove_photo(person: User) -> bool:
    return current_user.is_authenticated and (current_user.id == person.id or has_role(current_user, Role.ADMIN))


def _account_page(profile_errors: dict[str, str], status: int):
    """/account again, the bio and photo form showing its errors and what was typed (the rest as stored)."""
    settings = current_settings()
    values = profile.account_values(current_user, settings)
    page = render_template(
        "accounts/account.html",
        errors={},
        values=values,
        profile_errors=profile_errors,
        profile_values={"bio": request.form.get("bio", current_user.bio) if status != 413 else current_user.bio},
        **profile.form_choices(settings),
    )
    return no_store(page, private=True), status


@bp.post("/account/profile-page", endpoint="update_profile")
@uploads_views.accepts_upload
@require_role(Role.INSTRUCTOR)
def update_profile():
    photo = None
    try:
        processed = uploads_views.read_image("photo", max_side=profile.PHOTO_MAX_SIDE)
        if processed is not None:
            errors = profile.bio_errors(request.form.get("bio", ""))
            if errors:  # checked before the file is written: nothing is stored for a refused form
                raise ValidationFailed(errors)
            photo = uploads.store("photos", processed)
            uploads_views.discard_unless_kept("photos", photo)
        replaced = profile.update_instructor_profile(
            current_user,
            bio=request.form.get("bio", ""),
            photo=photo,
            keep_photo=request.form.get("remove_photo") != "on",
        )
    except uploads.ImageRefused as exc:
        return _account_page({"photo": str(exc)}, 422)
    except ValidationFailed as exc:
        return _account_page(exc.fields, 422)
    uploads_views.delete_after_success("photos", replaced)
    flash(gettext("Your instructor profile is saved."), "success")
    return redirect(url_for("accounts.account") + "#instructor-profile")


@bp.post("/instructors/<int:user_id>/photo/delete", endpoint="delete_photo")
@require_login
def delete_photo(user_id: int):
    person = db.session.get(User, user_id) if is_id(user_id) else None
    if person is None:
        raise NotFound(NOT_FOUND)
    if not _may_remove_photo(person):
        raise Forbidden(_l("Only the person or an admin removes a photo."))
    uploads_views.delete_after_success("photos", profile.remove_photo(person, actor=current_user))
    flash(
        gettext("The photo is removed.") if person.id != current_user.id else gettext("Your photo is removed."),
        "success",
    )
    if person.id == current_user.id:
        return redirect(url_for("accounts.account") + "#instructor-profile")
    return redirect(url_for("instructors.page", user_id=person.id))


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(exc):
    if request.endpoint != "instructors.update_profile" or not has_role(current_user, Role.INSTRUCTOR):
        raise exc
    return _account_page({"photo": uploads.too_large_message()}, 413)
