"""DomainError family, and the one handler that maps errors to JSON, an htmx fragment or an HTML page."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from portal.core.db import busy_retry_after, is_lock_timeout
from portal.core.htmx import is_htmx_request
from portal.extensions import db


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.fields = fields or {}
        self.extra = extra or {}
        self.retry_after = retry_after  # seconds: answered as a Retry-After header (a 503 or 429 worth retrying)


class BadRequest(DomainError):
    status, code = 400, "bad_request"


class Unauthorized(DomainError):
    status, code = 401, "unauthorized"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class NotFound(DomainError):
    status, code = 404, "not_found"


class Conflict(DomainError):
    """The thing exists but is in the wrong state for this action (409)."""

    status, code = 409, "wrong_state"


class ValidationFailed(DomainError):
    """One or more fields are invalid; `fields` maps field name -> message (422)."""

    status, code = 422, "invalid"

    def __init__(self, fields: dict[str, str], message: str = _l("Some fields need attention.")):
        super().__init__(message, fields=fields)


class ServiceUnavailable(DomainError):
    """An outside service (video provider, mail) could not be reached; try again (503)."""

    status, code = 503, "unavailable"


def wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json" and not is_htmx_request()
    )


def error_body(
    code: str, message: str, fields: dict[str, str] | None = None, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON body of every error: {"error": {"code", "message", ["fields"], **extra}}."""
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    body.update(extra or {})
    return {"error": body}


def error_response(
    status: int,
    code: str,
    message: str,
    fields: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    *,
    retry_after: int | None = None,
):
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    if wants_json():
        return jsonify(error_body(code, message, fields, extra)), status, headers
    if is_htmx_request():
        return render_template("_error_fragment.html", code=code, message=message), status, headers
    sign_in = sign_in_path() if status in SIGN_IN_STATUSES else None
    page = render_template(
        "error.html", status=status, code=code, message=message, fields=fields or {}, sign_in=sign_in
    )
    return page, status, headers


# A page a signed-out visitor may not see answers these; the page offers to sign in and come back. The same for any
# such page, existing or not (a members-only session's 404 is the 404 of a session id that never existed).
SIGN_IN_STATUSES = frozenset({401, 403, 404})


def sign_in_path() -> str | None:
    """For a signed-out visitor's plain GET of a page: /login?next=<this path>, to come back here once signed in.
    None for anyone signed in (their 404 stays a plain 404), for other methods and for paths that are not local."""
    if current_user.is_authenticated or request.method not in ("GET", "HEAD"):
        return None
    path = request.full_path.rstrip("?") if request.query_string else request.path
    if not path.startswith("/") or path.startswith("//") or path.startswith("/login"):
        return None
    return url_for("accounts.login", next=path)


def database_busy_response():
    """503 with Retry-After: another process holds the database's write lock longer than a request waits for it
    (SQLITE_BUSY_TIMEOUT_SECONDS). Nothing of the request is stored (its transaction is rolled back)."""
    return error_response(
        503,
        "database_busy",
        _l("The database is busy right now, so nothing was saved. Try again in a few seconds."),
        retry_after=busy_retry_after(),
    )


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "wrong_state",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
}

# What a page says for werkzeug's own errors (their English descriptions are not translatable).
_HTTP_MESSAGES = {
    400: _l("The request could not be understood."),
    401: _l("Sign in to continue."),
    403: _l("You may not do this."),
    404: _l("This page does not exist."),
    405: _l("This address does not accept this kind of request."),
    413: _l("What you sent is too large."),
    415: _l("This kind of content is not accepted here."),
    429: _l("Too many requests: wait a moment and try again."),
}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def handle_domain_error(exc: DomainError):
        db.session.rollback()
        return error_response(exc.status, exc.code, exc.message, exc.fields, exc.extra, retry_after=exc.retry_after)

    @app.errorhandler(OperationalError)
    def handle_database_error(exc: OperationalError):
        db.session.rollback()
        if is_lock_timeout(exc):
            app.logger.warning("database busy on %s %s: %s", request.method, request.path, exc.orig)
            return database_busy_response()
        return handle_unexpected(exc)

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        status = exc.code or 500
        code = _HTTP_CODES.get(status, "error")
        if status == 400 and "CSRF" in (exc.description or ""):
            code = "csrf_failed"
            message = _l("Your form expired or was not sent from this site. Reload the page and try again.")
        elif exc.description == type(exc).description and status in _HTTP_MESSAGES:
            message = _HTTP_MESSAGES[status]  # werkzeug's own English text: ours, translatable
        else:
            message = exc.description or exc.name
        return error_response(status, code, message)

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return error_response(500, "internal_error", _l("Something went wrong on our side. It has been logged."))
