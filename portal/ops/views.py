"""Operations: health of the database, Redis, workers and the cron process."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from portal.accounts.auth import require_role
from portal.accounts.roles import Role
from portal.core.sqlite import write_lock_held_elsewhere
from portal.core.web import expose_to_templates, no_store
from portal.extensions import db
from portal.notifications.models import NotificationStatus
from portal.ops import queries

bp = Blueprint("ops", __name__)
expose_to_templates(bp, NotificationStatus)


@bp.get("/healthz")
def healthz():
    """For load balancers and monitors: 200 when the database and Redis answer, 503 naming what is down.
    Anonymous, and says nothing but ok/down/locked (no error texts, no versions). "locked": the database answers
    reads but another process holds its write lock (SQLite), so writes wait and fail; found within half a second."""
    database = queries.check_database()
    body = {
        "database": "down" if database is not None else "locked" if write_lock_held_elsewhere(db.engine) else "ok",
        "redis": "ok" if queries.check_redis() is None else "down",
    }
    response = jsonify(body)
    response.status_code = 200 if all(state == "ok" for state in body.values()) else 503
    return no_store(response, private=False)


@bp.get("/admin/health")
@require_role(Role.ADMIN)
def health():
    return render_template("ops/health.html", health=queries.health())
