"""The admins' people pages beside /admin/users: add a person (and invite them), invite again, import a roster.

Import is three steps: upload (POST /admin/users/import) -> preview (GET /admin/users/import/<id>: every row
with its errors, what would be created or updated) -> confirm (POST /admin/users/import/<id>). The parsed
upload waits in Redis under a random id bound to the admin (portal.accounts.roster.keep); the browser only ever
sends the id back, so nothing it could alter is trusted, and nothing is stored before the confirmation.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from portal.accounts import people, roster
from portal.accounts.auth import require_role
from portal.accounts.roles import ROLES, Role
from portal.config import current_settings
from portal.core.errors import ValidationFailed
from portal.core.forms import form_values, render_invalid
from portal.core.timezones import all_timezones
from portal.core.web import no_store
from portal.extensions import db

bp = Blueprint("people", __name__)
PREVIEW_VALID_ROWS = 500  # rows without errors listed on the preview (every row with an error is listed)


@bp.get("/admin/users/new")
@require_role(Role.ADMIN)
def new_person():
    values = {"role": Role.MEMBER.value, "timezone": current_settings().DEFAULT_TIMEZONE, "invite": "on"}
    return render_template("accounts/people_new.html", errors={}, values=values, roles=ROLES, timezones=all_timezones())


@bp.post("/admin/users/new")
@require_role(Role.ADMIN)
def new_person_post():
    form = request.form
    try:
        user = people.add_person(
            form.get("email", ""),
            form.get("name", ""),
            form.get("role", ""),
            form.get("timezone", ""),
            actor=current_user,
        )
    except ValidationFailed as exc:
        return render_invalid("accounts/people_new.html", exc.fields, roles=ROLES, timezones=all_timezones())
    if form.get("invite") == "on":
        people.invite(user.id, actor=current_user)
        flash(
            gettext(
                "%(name)s is added, and an invitation is on its way to %(email)s.", name=user.name, email=user.email
            ),
            "success",
        )
    else:
        flash(gettext("%(name)s is added. Send an invitation when they should sign in.", name=user.name), "success")
    return redirect(url_for("accounts.users", q=user.email))


@bp.post("/admin/users/<int:user_id>/invite")
@require_role(Role.ADMIN)
def invite(user_id: int):
    user = people.invite(user_id, actor=current_user)
    flash(
        gettext("An invitation is on its way to %(email)s; its link is valid for 7 days.", email=user.email), "success"
    )
    return redirect(url_for("accounts.users", q=request.args.get("q") or None))


# ------------------------------------------------------------------------------------------------ roster import
def _import_form(errors: dict[str, str], status: int = 200, *, read_form: bool = True):
    values = form_values() if request.method == "POST" and read_form else {"delimiter": ""}
    page = render_template(
        "accounts/import.html",
        errors=errors,
        values=values,
        delimiters=roster.DELIMITERS,
        max_rows=roster.MAX_ROWS,
        max_bytes=current_settings().MAX_REQUEST_BYTES,
        roles=ROLES,
    )
    return no_store(page, private=True), status


@bp.get("/admin/users/import")
@require_role(Role.ADMIN)
def import_form():
    return _import_form({})


@bp.post("/admin/users/import")
@require_role(Role.ADMIN)
def import_upload():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _import_form({"file": gettext("Choose the CSV file to import.")}, 422)
    try:
        data = upload.read(current_settings().MAX_REQUEST_BYTES + 1)
    finally:
        upload.close()  # a large upload waits in a temporary file: closed as soon as it is read
    try:
        parsed = roster.read_roster(
            data, request.form.get("delimiter", ""), max_bytes=current_settings().MAX_REQUEST_BYTES
        )
    except roster.RosterRefused as exc:
        return _import_form({"file": str(exc)}, 422)
    roster.plan(parsed, actor=current_user)
    upload_id = roster.keep(parsed, actor=current_user)
    return redirect(url_for("people.import_preview", upload_id=upload_id))


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(exc):
    if request.endpoint != "people.import_upload":
        raise exc
    mb = current_settings().MAX_REQUEST_BYTES / (1024 * 1024)
    return _import_form(
        {"file": f"The file is larger than {mb:g} MB, the most one upload may be; split it."}, 413, read_form=False
    )


def _preview(parsed: roster.Roster, upload_id: str, errors: dict[str, str], status: int = 200):
    valid_rows = [row for row in parsed.rows if not row.errors]
    page = render_template(
        "accounts/import_preview.html",
        roster=parsed,
        upload_id=upload_id,
        errors=errors,
        error_rows=parsed.error_rows,
        valid_rows=valid_rows[:PREVIEW_VALID_ROWS],
        more_valid=max(len(valid_rows) - PREVIEW_VALID_ROWS, 0),
        delimiter_name=roster.DELIMITERS.get(parsed.delimiter, parsed.delimiter),
        default_zone=current_settings().DEFAULT_TIMEZONE,
        CREATE=roster.CREATE,
        UPDATE=roster.UPDATE,
    )
    return no_store(page, private=True), status


@bp.get("/admin/users/import/<upload_id>")
@require_role(Role.ADMIN)
def import_preview(upload_id: str):
    parsed = roster.plan(roster.load(upload_id, actor=current_user), actor=current_user)
    return _preview(parsed, upload_id, {})


@bp.post("/admin/users/import/<upload_id>")
@require_role(Role.ADMIN)
def import_confirm(upload_id: str):
    parsed = roster.load(upload_id, actor=current_user)
    try:
        counts = roster.commit(parsed, actor=current_user)
        db.session.flush()
    except ValidationFailed as exc:
        db.session.rollback()
        return _preview(parsed, upload_id, exc.fields, 422)
    except IntegrityError:  # someone added one of these addresses in the meantime
        db.session.rollback()
        parsed = roster.plan(roster.load(upload_id, actor=current_user), actor=current_user)
        message = "Some of these people were added meanwhile; check the preview again and confirm."
        return _preview(parsed, upload_id, {"file": message}, 409)
    roster.forget(upload_id)
    flash(
        gettext("Imported: %(created)d added, %(updated)d updated, %(unchanged)d unchanged.", **counts),
        "success",
    )
    return redirect(url_for("accounts.users"))
