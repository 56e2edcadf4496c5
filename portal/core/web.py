"""Request-level wiring shared by every blueprint: which credentials count, CSRF policy, security headers,
template helpers."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, make_response, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, SessionTransaction
from werkzeug.datastructures import Headers

from portal.config import current_settings
from portal.core import timezones
from portal.core.clock import now_utc
from portal.core.db import is_lock_timeout
from portal.core.errors import Unauthorized, database_busy_response
from portal.core.queue import has_pending_jobs
from portal.extensions import csrf, db

HSTS = "max-age=31536000; includeSubDomains"  # a year: browsers keep to https once they have seen the portal
SECURITY_HEADERS = (
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "X-Frame-Options",
    "Content-Security-Policy",
)


def bearer_token(headers: Headers) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (the scheme in any case), "" for a bearer header
    without one, None when the request brings no bearer token."""
    scheme, _, token = headers.get("Authorization", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def csrf_exempt(view):
    """Mark a view that carries its own proof of origin (a signed webhook, a credentials exchange)."""
    view.csrf_exempt = True
    return view


def no_store(response, *, private: bool = False) -> Response:
    """The response (anything a view may return), never stored by any cache; `private` for pages of one person."""
    response = make_response(response)
    response.headers["Cache-Control"] = "no-store, private" if private else "no-store"
    return response


def expose_to_templates(blueprint: Blueprint, *names: type) -> None:
    """Give every template `names` (enums, by their class name) once `blueprint` is registered, so templates
    compare with `SessionStatus.LIVE`, never with the string "live". Each package exposes its own."""
    blueprint.record_once(lambda state: state.app.jinja_env.globals.update({name.__name__: name for name in names}))


def keep_work_before_error() -> None:
    """Commit what the request has done so far, before it answers with an error that must not undo it (a failed
    room attempt kept on record, say). The one exception to `commit_request_work`; say why where you call it."""
    db.session.commit()


_TOUCHED_DATABASE = "portal.touched_database"  # Session.info: the transaction under way took a connection


@event.listens_for(Session, "after_begin")
def _note_connection(session: Session, _transaction: SessionTransaction, _connection) -> None:
    session.info[_TOUCHED_DATABASE] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_connection(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_TOUCHED_DATABASE, None)


def nothing_to_commit(session: Session) -> bool:
    """The request neither read nor wrote through its database session (no connection taken, nothing added,
    changed or deleted, no job waiting for the commit): a join-panel poll answered from the snapshot, say. Its
    transaction, if one was begun at all, holds nothing; ending the request's session (Flask-SQLAlchemy's
    teardown) is all it needs."""
    return not (
        session.info.get(_TOUCHED_DATABASE)
        or session.new
        or session.dirty
        or session.deleted
        or has_pending_jobs(session)
    )


def register_web(app: Flask) -> None:
    @app.after_request
    def commit_request_work(response: Response) -> Response:
        """The one place a request's work is committed: a success (below 400) commits, anything else rolls back.
        Views and operations never commit; a view that must keep part of its work before an error answer says
        so with keep_work_before_error(). A request that did nothing through the database skips both."""
        if nothing_to_commit(db.session()):
            return response
        if response.status_code >= 400:
            db.session.rollback()
            return response
        try:
            db.session.commit()
        except OperationalError as exc:
            db.session.rollback()
            if not is_lock_timeout(exc):
                raise
            # Another process held the write lock past the wait: nothing is stored, and the answer says so.
            app.logger.warning("database busy on commit of %s %s: %s", request.method, request.path, exc.orig)
            busy = make_response(database_busy_response())
            for name in SECURITY_HEADERS:  # security_headers ran already (after_request runs in reverse)
                if name in response.headers:
                    busy.headers[name] = response.headers[name]
            return busy
        return response

    @app.before_request
    def one_kind_of_credentials() -> None:
        """A request is authenticated by a valid bearer token or by the cookie with the CSRF token, never a mix.
        With a bearer token the cookie is not used at all (accounts.auth loads the token's user, never the
        cookie's), and an invalid token is a 401 whatever cookie comes with it: a junk token must not leave a
        signed-in browser writing without CSRF. A valid one needs no CSRF token: a page elsewhere cannot make a
        browser send the header (CORS), and the token is not in the browser to be ridden on."""
        if bearer_token(request.headers) is None:
            check_csrf()
        elif not current_user.is_authenticated:
            raise Unauthorized(
                _l("The bearer token is invalid or expired; get a new one from POST /api/auth/token."), code="bad_token"
            )

    def check_csrf() -> None:
        """Everything that rides on the browser session (forms, htmx, the JSON API used from a page) carries the
        CSRF token."""
        if not app.config.get("WTF_CSRF_ENABLED", True):
            return
        view = app.view_functions.get(request.endpoint or "")
        if getattr(view, "csrf_exempt", False):
            return
        if request.path.startswith("/api/") and not current_user.is_authenticated:
            return  # no session to ride on: the endpoint answers 401 itself
        csrf.protect()

    @app.after_request
    def security_headers(response):
        if current_settings().BASE_URL.startswith("https://"):  # production refuses any other BASE_URL
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
            )
        return response

    app.jinja_env.filters["localtime"] = timezones.format_local
    app.jinja_env.filters["duration"] = timezones.format_duration
    app.jinja_env.filters["iso"] = lambda dt: dt.isoformat() if dt else ""

    @app.context_processor
    def template_helpers():
        return {
            "zone_options": lambda zones: [(z, z.replace("_", " ")) for z in zones],
            "viewer_timezone": timezones.viewer_timezone,
            "now_utc": now_utc,
        }
