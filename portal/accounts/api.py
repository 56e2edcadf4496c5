"""POST /api/auth/token: email + password -> a bearer token for the JSON API; password reset; password change."""

from __future__ import annotations

from flask import Blueprint, jsonify, request, session
from flask_login import current_user

from portal.accounts import operations, throttle
from portal.accounts.auth import api_auth_required, issue_token
from portal.core.api import json_body
from portal.core.errors import Unauthorized, ValidationFailed, error_body
from portal.core.web import csrf_exempt, no_store

bp = Blueprint("accounts_api", __name__, url_prefix="/api")


@bp.after_request
def never_stored(response):
    """Token and account answers, errors included, are never kept by a cache."""
    if "no-store" not in response.headers.get("Cache-Control", ""):
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/auth/token")
@csrf_exempt  # exchanges credentials for a token; it reads no cookie
def token():
    body = json_body()
    email, password = body.get("email"), body.get("password")
    fields = {}
    if not isinstance(email, str) or not email.strip():
        fields["email"] = "Required."
    if not isinstance(password, str) or not password:
        fields["password"] = "Required."
    if fields:
        raise ValidationFailed(fields)
    wait = throttle.sign_in_refused(email, request.remote_addr)
    if wait is not None:
        return too_many(wait, "Too many failed sign-ins for this account or from this address.")
    user = operations.authenticate(email, password)
    if user is None:
        throttle.sign_in_failed(email, request.remote_addr)
        raise Unauthorized("That email and password do not match an active account.", code="bad_credentials")
    token_value, expires_at = issue_token(user)
    return no_store(jsonify({"token": token_value, "expires_at": expires_at.isoformat()}), private=True)


@bp.get("/me")
@api_auth_required
def me():
    return no_store(jsonify(user_json(current_user)), private=True)


@bp.post("/auth/password-reset")
@csrf_exempt  # asks for an email to the address given; it reads no cookie
def password_reset():
    """202 whether or not an account has this address (and whatever it is): the answer tells nothing."""
    body = json_body()
    email = body.get("email")
    if not isinstance(email, str) or not email.strip():
        raise ValidationFailed({"email": "Required: the email address of the account."})
    wait = throttle.hit_per_address(throttle.RESET_ADDRESS, request.remote_addr)
    if wait is not None:
        return too_many(wait, "Too many reset requests from this address.")
    operations.request_password_reset(email)
    return no_store(jsonify({"status": "accepted"})), 202


@bp.post("/auth/password-reset/confirm")
@csrf_exempt  # the token from the email is the proof; it reads no cookie
def password_reset_confirm():
    body = json_body()
    token, password = body.get("token"), body.get("password")
    fields = {}
    if not isinstance(token, str) or not token:
        fields["token"] = "Required: the token of the link in the email (the part after /password-reset/)."
    if not isinstance(password, str) or not password:
        fields["password"] = "Required."
    if fields:
        raise ValidationFailed(fields)
    operations.reset_password(token, password)
    return no_store("", private=True), 204


@bp.put("/me/password")
@api_auth_required
def change_password():
    """Needs the current password. Ends every other browser sign-in and revokes every API token (the caller's
    too: get a new one from POST /api/auth/token)."""
    body = json_body()
    wait = throttle.sign_in_refused(current_user.email, request.remote_addr)
    if wait is not None:
        return too_many(wait, "Too many wrong passwords for this account.")
    operations.change_password(
        current_user,
        body.get("current_password"),
        body.get("new_password"),
        keep=session.get("_user_id") if _by_cookie() else None,
        address=request.remote_addr,
    )
    return no_store("", private=True), 204


def _by_cookie() -> bool:
    return getattr(current_user, "login_session_id", None) is not None


def too_many(wait: int, message: str):
    body = error_body("too_many_attempts", f"{message} Try again in {wait} seconds (Retry-After).")
    response = no_store(jsonify(body))
    response.status_code = 429
    response.headers["Retry-After"] = str(wait)
    return response


def user_json(user) -> dict:
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role, "timezone": user.timezone}
