"""Sign in and out, sign up, one's own profile, and the admins' users page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from portal.accounts import operations, queries
from portal.accounts.auth import require_login, require_role
from portal.accounts.roles import ROLES, Role
from portal.config import current_settings
from portal.core.errors import ValidationFailed
from portal.core.forms import render_invalid, safe_next
from portal.core.timezones import all_timezones, browser_timezone
from portal.core.web import no_store

bp = Blueprint("accounts", __name__)


@bp.get("/login")
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next"), url_for("training.home")))
    return render_template("accounts/login.html", errors={}, values={"next": request.args.get("next", "")})


@bp.post("/login")
def login_post():
    user = operations.authenticate(request.form.get("email", ""), request.form.get("password", ""))
    if user is None:
        return render_invalid(
            "accounts/login.html", {"form": "That email and password do not match an active account."}, status=401
        )
    login_user(user, remember=request.form.get("remember") == "on")
    flash(f"Welcome back, {user.name}.", "success")
    return redirect(safe_next(request.form.get("next"), url_for("training.home")))


@bp.post("/logout")
def logout():
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("training.home"))


@bp.get("/signup")
def signup():
    return render_template(
        "accounts/signup.html", errors={}, values={"timezone": _guess_timezone()}, timezones=all_timezones()
    )


@bp.post("/signup")
def signup_post():
    form = request.form
    try:
        user = operations.create_user(
            form.get("email", ""), form.get("name", ""), form.get("password", ""), timezone=form.get("timezone", "UTC")
        )
    except ValidationFailed as exc:
        return render_invalid("accounts/signup.html", exc.fields, timezones=all_timezones())
    login_user(user)
    flash("Your account is ready. An admin can make you a member.", "success")
    return redirect(url_for("training.home"))


@bp.get("/account")
@require_login
def account():
    values = {"name": current_user.name, "timezone": current_user.timezone}
    page = render_template("accounts/account.html", errors={}, values=values, timezones=all_timezones())
    return no_store(page, private=True)


@bp.post("/account")
@require_login
def account_post():
    form = request.form
    try:
        operations.update_profile(
            current_user,
            name=form.get("name", ""),
            timezone=form.get("timezone", ""),
            password=form.get("password") or None,
        )
    except ValidationFailed as exc:
        return no_store(render_invalid("accounts/account.html", exc.fields, timezones=all_timezones()), private=True)
    flash("Your settings are saved.", "success")
    return redirect(url_for("accounts.account"))


@bp.get("/admin/users")
@require_role(Role.ADMIN)
def users():
    query = (request.args.get("q") or "").strip()
    return render_template("accounts/users.html", users=queries.search_users(query), roles=ROLES, q=query)


@bp.post("/admin/users/<int:user_id>/role")
@require_role(Role.ADMIN)
def change_role(user_id: int):
    user = operations.change_role(user_id, request.form.get("role", ""), actor=current_user)
    flash(f"{user.name} is now {Role(user.role).label.lower()}.", "success")
    return redirect(url_for("accounts.users", q=request.args.get("q") or None))


@bp.post("/admin/users/<int:user_id>/active")
@require_role(Role.ADMIN)
def change_active(user_id: int):
    is_active = request.form.get("is_active") == "true"
    user = operations.set_active(user_id, is_active, actor=current_user)
    flash(f"{user.name} is {'active' if is_active else 'deactivated'}.", "success")
    return redirect(url_for("accounts.users", q=request.args.get("q") or None))


def _guess_timezone() -> str:
    return browser_timezone() or current_settings().DEFAULT_TIMEZONE
