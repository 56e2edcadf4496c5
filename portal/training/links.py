"""Links that leave the portal (emails, .ics files): the session page on BASE_URL. Never a join token."""

from __future__ import annotations

from flask import current_app
from werkzeug.routing import BuildError

SESSION_ENDPOINT = "training.detail"  # the session page (portal/training/views.py)


def session_path(session_id: int) -> str:
    """The session page's path, built from the URL map when the training pages are registered."""
    try:
        return current_app.url_map.bind("portal").build(SESSION_ENDPOINT, {"session_id": session_id})
    except (BuildError, RuntimeError):
        return f"/sessions/{session_id}"


def session_url(session_id: int, base_url: str) -> str:
    return base_url.rstrip("/") + session_path(session_id)
