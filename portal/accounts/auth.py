"""Who is asking: Flask-Login sessions for browsers, bearer JWTs for API clients, and role guards."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

import jwt
from flask import Flask, current_app, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.accounts.models import User
from portal.accounts.roles import Role, has_role
from portal.accounts.sessions import user_of_login_session
from portal.config import current_settings
from portal.core.clock import now_utc
from portal.core.errors import Forbidden, Unauthorized, error_response, wants_json
from portal.core.htmx import hx_redirect, is_htmx
from portal.core.validation import MAX_ID, is_id
from portal.core.web import bearer_token
from portal.extensions import db, login_manager

TOKEN_ALGORITHM = "HS256"
TOKEN_AUDIENCE = "portal-api"


def init_auth(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    app.jinja_env.globals["Role"] = Role  # its labels; what a role may do reaches templates as `may` dicts

    @login_manager.user_loader
    def load_user(login_session_id: str):
        """The user of the browser session (or remember-me) cookie, which names a sign-in kept on the server
        (portal.accounts.sessions: Flask-Login's alternative id), never a user id: a sign-in that was ended (sign-out,
        a password change or reset elsewhere) loads nobody, whatever copy of its cookie comes. A request that brings
        a bearer token is the token's alone, whatever cookie comes with it (portal.core.web.one_kind_of_credentials):
        Flask-Login asks this loader first whenever there is a cookie, so the token is read here too."""
        token = bearer_token(request.headers)
        if token is not None:
            return user_from_token(token)
        return user_of_login_session(login_session_id)

    @login_manager.request_loader
    def load_user_from_bearer(req):
        """A request without cookies."""
        token = bearer_token(req.headers)
        return user_from_token(token) if token is not None else None

    @login_manager.unauthorized_handler
    def unauthorized():
        if wants_json():
            return error_response(401, "login_required", "Sign in, or send a valid bearer token.")
        target = url_for("accounts.login", next=request.full_path.rstrip("?"))
        if is_htmx():
            return hx_redirect(current_app.response_class(status=204), target)
        return redirect(target)


def issue_token(user) -> tuple[str, Any]:
    settings = current_settings()
    expires_at = now_utc() + timedelta(hours=settings.API_TOKEN_TTL_HOURS)
    payload = {
        "sub": str(user.id),
        "aud": TOKEN_AUDIENCE,
        "exp": expires_at,
        "iat": now_utc(),
        # a changed password bumps the user's token version, which invalidates the tokens issued before it
        "ver": user.token_version,
    }
    return jwt.encode(payload, settings.SECRET_KEY, algorithm=TOKEN_ALGORITHM), expires_at


def user_from_token(token: str):
    try:
        payload = jwt.decode(
            token,
            current_settings().SECRET_KEY,
            algorithms=[TOKEN_ALGORITHM],
            audience=TOKEN_AUDIENCE,
            options={"require": ["exp", "sub", "aud", "ver"]},
        )
    except jwt.PyJWTError:
        return None
    user = _user_by_id(payload.get("sub"))
    if user is None or not user.is_active or payload.get("ver") != user.token_version:
        return None
    return user


def _user_by_id(text: Any) -> User | None:
    """The user whose id `text` (from a signed cookie or token) spells, if any."""
    spelled = isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ID))
    user_id = int(text) if spelled else None
    return db.session.get(User, user_id) if is_id(user_id) else None


# Why a role check refused, one whole sentence per role (German nouns keep their capital letter).
ROLE_NEEDED = {
    Role.PUBLIC: _l("This needs the public role."),
    Role.MEMBER: _l("This needs the member role."),
    Role.INSTRUCTOR: _l("This needs the instructor role."),
    Role.BOARD_MEMBER: _l("This needs the board member role."),
    Role.ADMIN: _l("This needs the admin role."),
}


def require_role(minimum: Role) -> Callable:
    """View decorator: signed in (else 401 / sign-in page) and holding `minimum` or higher (else 403)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if not has_role(current_user, minimum):
                raise Forbidden(ROLE_NEEDED[minimum])
            return view(*args, **kwargs)

        return wrapped

    return decorator


def require_login(view: Callable) -> Callable:
    return require_role(Role.PUBLIC)(view)


def api_auth_required(view: Callable) -> Callable:
    """For API endpoints: a clear 401 JSON error with no credentials or bad ones."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            raise Unauthorized(_l("Sign in, or send a valid bearer token."), code="login_required")
        return view(*args, **kwargs)

    return wrapped


def api_viewer():
    """The caller (possibly anonymous); a bearer token that does not check out is a 401, not anonymity."""
    if request.headers.get("Authorization") and not current_user.is_authenticated:
        raise Unauthorized(
            _l("The bearer token is invalid or expired; get a new one from POST /api/auth/token."), code="bad_token"
        )
    return current_user
