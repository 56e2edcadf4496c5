"""The recordings library (/recordings) and the way to a recording (/recordings/<session_id>/watch).

The list carries no provider link: "Watch" goes to the watch endpoint, which checks the viewer may watch the
recording now (signed in, checks 1-4, ready, within RECORDING_RETENTION_DAYS), asks the provider for the recording's
current link at that moment, for that viewer (rooms.fetch_recording_link), and redirects there (303, no-store), so
the link is in no page and no JSON and is never stored. A recording the viewer may not watch is a 404, the same
answer as one that does not exist. When the provider fails or no longer has the recording, a page says so (503 or
404), never a 500.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.accounts.auth import require_login
from portal.config import current_settings
from portal.core.clock import now_utc
from portal.core.errors import DomainError, NotFound
from portal.core.validation import is_id
from portal.core.web import no_store
from portal.extensions import db
from portal.training import recordings, rooms
from portal.training.models import TrainingSession

bp = Blueprint("recordings", __name__)
NOT_FOUND_MESSAGE = _l("Recording not found.")


@bp.get("/recordings")
@require_login
def index():
    days = current_settings().RECORDING_RETENTION_DAYS
    sessions = recordings.watchable(current_user, now_utc(), days)
    return no_store(render_template("training/recordings.html", sessions=sessions, retention_days=days), private=True)


@bp.get("/recordings/<int:session_id>/watch")
@require_login
def watch(session_id: int):
    session = db.session.get(TrainingSession, session_id) if is_id(session_id) else None
    now = now_utc()
    if session is None or not recordings.is_listed(
        session, current_user, now, current_settings().RECORDING_RETENTION_DAYS
    ):
        raise NotFound(NOT_FOUND_MESSAGE)
    try:
        link = rooms.fetch_recording_link(session, current_user)
    except DomainError as exc:
        return _unavailable(session, exc)
    # An empty body: the link goes in the Location header alone (a redirect's default page would carry it too).
    response = no_store(Response(status=303, headers={"Location": link}), private=True)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _unavailable(session: TrainingSession, exc: DomainError):
    """The provider could not give the link (down, or the recording is gone there): a page that says so."""
    db.session.rollback()
    page = render_template("training/recording_unavailable.html", session=session, message=exc.message, code=exc.code)
    response = no_store(Response(page, status=exc.status, mimetype="text/html"), private=True)
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response
