"""Sign in and out, sign up, one's own profile, and the admins' users page; the one-time links (verify, reset,
invitation, email change) and the password and email forms of /account."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user

from portal.accounts import operations, people, profile, queries, throttle, tokens
from portal.accounts.auth import require_login, require_role
from portal.accounts.roles import ROLES, Role
from portal.accounts.sessions import end_login_session, start_login_session
from portal.config import current_settings
from portal.core.errors import ValidationFailed
from portal.core.forms import form_values, render_invalid, safe_next
from portal.core.timezones import all_timezones, browser_timezone
from portal.core.web import no_store

bp = Blueprint("accounts", __name__)


def _return_path(target: str | None) -> str:
    """Where sign-in returns to: a local path only (core.forms.safe_next); anything else is home."""
    return safe_next(target, url_for("training.home"))


@bp.get("/login")
def login():
    if current_user.is_authenticated:
        return redirect(_return_path(request.args.get("next")))
    next_path = request.args.get("next", "")
    values = {"next": next_path if _return_path(next_path) == next_path else ""}
    return render_template("accounts/login.html", errors={}, values=values)


@bp.post("/login")
def login_post():
    email = request.form.get("email", "")
    wait = throttle.sign_in_refused(email, request.remote_addr)
    if wait is not None:
        return _too_many("accounts/login.html", wait, "Too many failed sign-ins.")
    user = operations.authenticate(email, request.form.get("password", ""))
    if user is None:
        throttle.sign_in_failed(email, request.remote_addr)
        return render_invalid(
            "accounts/login.html",
            {"form": gettext("That email and password do not match an active account.")},
            status=401,
        )
    _sign_in(user, remember=request.form.get("remember") == "on")
    flash(gettext("Welcome back, %(name)s.", name=user.name), "success")
    return redirect(_return_path(request.form.get("next")))


@bp.post("/logout")
def logout():
    """Ends the sign-in on the server: this browser's cookies, and any copy of them, name nothing any more."""
    end_login_session(session.get("_user_id"))
    logout_user()
    flash(gettext("You are signed out."), "info")
    return redirect(url_for("training.home"))


def _sign_in(user, *, remember: bool = False) -> None:
    """A new server-side sign-in for `user` in this browser (ending the one it had, if any)."""
    end_login_session(session.get("_user_id"))
    start_login_session(user)
    login_user(user, remember=remember)


def _too_many(template: str, wait: int, what: str, *, errors_name: str = "errors", **context):
    """429 with Retry-After: the form again, saying how long to wait."""
    minutes = max(1, round(wait / 60))
    message = f"{what} Try again in about {minutes} minute{'s' if minutes != 1 else ''}."
    context = {"errors": {}, **context, errors_name: {"form": message}}
    page = render_template(template, values=form_values(), **context)
    return no_store(page, private=True), 429, {"Retry-After": str(wait)}


@bp.get("/signup")
def signup():
    return render_template(
        "accounts/signup.html", errors={}, values={"timezone": _guess_timezone()}, timezones=all_timezones()
    )


@bp.post("/signup")
def signup_post():
    form = request.form
    wait = throttle.retry_after(throttle.SIGN_UP_ADDRESS, request.remote_addr or "unknown")
    if wait is not None:
        return _too_many(
            "accounts/signup.html", wait, "Too many accounts were made from here.", timezones=all_timezones()
        )
    try:
        user = operations.sign_up(
            form.get("email", ""), form.get("name", ""), form.get("password", ""), timezone=form.get("timezone", "UTC")
        )
    except ValidationFailed as exc:
        return render_invalid("accounts/signup.html", exc.fields, timezones=all_timezones())
    throttle.record(throttle.SIGN_UP_ADDRESS, request.remote_addr or "unknown")  # accounts made, not typos
    _sign_in(user)
    flash(
        gettext(
            "Your account is ready. We sent a link to %(email)s: open it to confirm your address (until then the "
            "portal emails you nothing else). An admin can make you a member.",
            email=user.email,
        ),
        "success",
    )
    return redirect(url_for("training.home"))


# ------------------------------------------------------------------------------------------------ verification
@bp.get("/verify-email/<token>")
def verify_email(token: str):
    return _link_page(tokens.VERIFY_EMAIL, token, "accounts/verify_email.html")


@bp.post("/verify-email/<token>")
def verify_email_post(token: str):
    try:
        user = operations.verify_email(token)
    except tokens.LinkRefused as exc:
        return _link_refused(exc)
    flash(gettext("Thank you: %(email)s is confirmed.", email=user.email), "success")
    return _after_link(user)


@bp.post("/verify-email")
@require_login
def resend_verification():
    if operations.resend_verification(current_user):
        flash(gettext("We sent a new link to %(email)s.", email=current_user.email), "info")
    elif current_user.email_verified_at is None:
        flash(gettext("We sent several links in the last hour; please wait a while before asking again."), "info")
    else:
        flash(gettext("Your address is already confirmed."), "info")
    return redirect(url_for("accounts.account"))


# ------------------------------------------------------------------------------------------------ password reset
@bp.get("/password-reset")
def password_reset():
    return no_store(render_template("accounts/reset_request.html", errors={}, values={}))


@bp.post("/password-reset")
def password_reset_post():
    """The same answer whether or not an account has this address."""
    wait = throttle.hit_per_address(throttle.RESET_ADDRESS, request.remote_addr)
    if wait is not None:
        return _too_many("accounts/reset_request.html", wait, "Too many reset requests from here.")
    email = (request.form.get("email") or "").strip()
    if not email:
        return render_invalid(
            "accounts/reset_request.html", {"email": gettext("Enter the email address of your account.")}
        )
    operations.request_password_reset(email)
    return no_store(render_template("accounts/reset_sent.html", email=email))


@bp.get("/password-reset/<token>")
def password_reset_form(token: str):
    return _link_page(tokens.PASSWORD_RESET, token, "accounts/reset_password.html")


@bp.post("/password-reset/<token>")
def password_reset_set(token: str):
    try:
        user = operations.reset_password(token, request.form.get("password", ""))
    except tokens.LinkRefused as exc:
        return _link_refused(exc)
    except ValidationFailed as exc:
        return _token_page_invalid("accounts/reset_password.html", exc, token, tokens.PASSWORD_RESET)
    _sign_in(user)
    flash(gettext("Your new password is set. You are signed out everywhere else."), "success")
    return redirect(url_for("training.home"))


# ------------------------------------------------------------------------------------------------ invitation
@bp.get("/invitation/<token>")
def invitation(token: str):
    return _link_page(tokens.INVITATION, token, "accounts/reset_password.html")


@bp.post("/invitation/<token>")
def invitation_accept(token: str):
    try:
        user = operations.accept_invitation(token, request.form.get("password", ""))
    except tokens.LinkRefused as exc:
        return _link_refused(exc)
    except ValidationFailed as exc:
        return _token_page_invalid("accounts/reset_password.html", exc, token, tokens.INVITATION)
    _sign_in(user)
    flash(gettext("Welcome, %(name)s. Your password is set.", name=user.name), "success")
    return redirect(url_for("training.home"))


# ----------------------------------------------------------------------------------- /account: password, email
@bp.post("/account/password")
@require_login
def change_password():
    form = request.form
    wait = throttle.sign_in_refused(current_user.email, request.remote_addr)
    if wait is not None:
        return _too_many(
            "accounts/password_change.html", wait, "Too many wrong passwords.", errors_name="password_errors"
        )
    try:
        operations.change_password(
            current_user,
            form.get("current_password", ""),
            form.get("new_password", ""),
            keep=session.get("_user_id"),
            address=request.remote_addr,
        )
    except ValidationFailed as exc:
        page = render_template(
            "accounts/password_change.html", password_errors=exc.fields, errors={}, values=form_values()
        )
        return no_store(page, private=True), 422
    flash(
        gettext("Your password is changed. You are signed out everywhere else, and your API tokens no longer work."),
        "success",
    )
    return redirect(url_for("accounts.account"))


@bp.post("/account/email")
@require_login
def change_email():
    form = request.form
    wait = throttle.sign_in_refused(current_user.email, request.remote_addr)
    if wait is not None:
        return _too_many("accounts/email_change.html", wait, "Too many wrong passwords.", errors_name="email_errors")
    new_email = form.get("email", "")
    try:
        sent = operations.request_email_change(
            current_user, new_email, form.get("current_password", ""), address=request.remote_addr
        )
    except ValidationFailed as exc:
        page = render_template("accounts/email_change.html", email_errors=exc.fields, errors={}, values=form_values())
        return no_store(page, private=True), 422
    if sent:
        flash(
            gettext("We sent a link to %(email)s: your address changes once you open it.", email=new_email.strip()),
            "info",
        )
    else:
        flash(
            gettext("Your address is now %(email)s; we sent a link there to confirm it.", email=current_user.email),
            "info",
        )
    return redirect(url_for("accounts.account"))


@bp.get("/account/email/confirm/<token>")
def confirm_email(token: str):
    return _link_page(tokens.EMAIL_CHANGE, token, "accounts/verify_email.html")


@bp.post("/account/email/confirm/<token>")
def confirm_email_post(token: str):
    try:
        user = operations.confirm_email_change(token)
    except tokens.LinkRefused as exc:
        return _link_refused(exc)
    flash(gettext("Your address is now %(email)s.", email=user.email), "success")
    return _after_link(user)


# ------------------------------------------------------------------------------------------------ link pages
def _link_page(purpose: str, token: str, template: str):
    """A one-time link's page: its form when the link is good, else why not (400 with the code)."""
    try:
        user, carried = tokens.read_token(purpose, token)
    except tokens.LinkRefused as exc:
        return _link_refused(exc)
    context = _purpose_flags(purpose)
    page = render_template(template, token=token, link_user=user, carried=carried, errors={}, values={}, **context)
    return _private_link_page(page)


def _token_page_invalid(template: str, exc: ValidationFailed, token: str, purpose: str):
    user, carried = tokens.read_token(purpose, token)
    page = render_template(
        template, token=token, link_user=user, carried=carried, errors=exc.fields, values={}, **_purpose_flags(purpose)
    )
    return _private_link_page(page), 422


def _purpose_flags(purpose: str) -> dict[str, bool]:
    """What the shared link templates need to know about the link (they compare no strings)."""
    return {"invitation": purpose == tokens.INVITATION, "email_change": purpose == tokens.EMAIL_CHANGE}


REFUSED_HEADINGS = {
    "link_expired": _l("This link has expired"),
    "link_used": _l("This link was already used"),
    "link_invalid": _l("This link is not valid"),
}


def _link_refused(exc: tokens.LinkRefused):
    heading = REFUSED_HEADINGS.get(exc.code, REFUSED_HEADINGS["link_invalid"])
    page = render_template("accounts/link_refused.html", code=exc.code, heading=heading, message=exc.message)
    return _private_link_page(page), 400


def _private_link_page(page):
    """Pages at a one-time link's address: never cached, never named to another site (the token is in the path)."""
    response = no_store(page, private=True)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _after_link(user):
    if current_user.is_authenticated and current_user.id == user.id:
        return redirect(url_for("accounts.account"))
    return redirect(url_for("accounts.login"))


@bp.get("/account")
@require_login
def account():
    values = {
        "name": current_user.name,
        "timezone": current_user.timezone,
        "locale": current_user.locale or "en",
        "hour_cycle": current_user.hour_cycle or "",
        **{
            f"email_{key}": "on"
            for key, _ in profile.preference_keys(current_settings())
            if profile.wants(current_user, key)
        },
    }
    return no_store(
        render_template("accounts/account.html", errors={}, values=values, **profile.form_choices(current_settings())),
        private=True,
    )


@bp.post("/account")
@require_login
def account_post():
    form = request.form
    settings = current_settings()
    try:
        profile.update_profile(
            current_user,
            name=form.get("name", ""),
            timezone=form.get("timezone", ""),
            locale=form.get("locale", ""),
            hour_cycle=form.get("hour_cycle", ""),
            wanted={key: form.get(f"email_{key}") == "on" for key, _ in profile.preference_keys(settings)}
            if form.get("email_preferences") == "shown"  # the boxes were on the form: an unticked one is off
            else None,
            settings=settings,
        )
    except ValidationFailed as exc:
        return no_store(
            render_invalid("accounts/account.html", exc.fields, **profile.form_choices(current_settings())),
            private=True,
        )
    flash(gettext("Your settings are saved."), "success")
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
    flash(gettext("%(name)s is now %(role)s.", name=user.name, role=str(Role(user.role).label).lower()), "success")
    return redirect(url_for("accounts.users", q=request.args.get("q") or None))


@bp.post("/admin/users/<int:user_id>/active")
@require_role(Role.ADMIN)
def change_active(user_id: int):
    is_active = request.form.get("is_active") == "true"
    change = people.reactivate if is_active else people.deactivate
    user = change(user_id, actor=current_user)
    flash(
        gettext("%(name)s is active.", name=user.name)
        if is_active
        else gettext("%(name)s is deactivated.", name=user.name),
        "success",
    )
    return redirect(url_for("accounts.users", q=request.args.get("q") or None))


def _guess_timezone() -> str:
    return browser_timezone() or current_settings().DEFAULT_TIMEZONE
