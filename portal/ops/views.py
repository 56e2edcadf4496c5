"""Operations: health of the database, Redis, workers and the cron process."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from portal.accounts.auth import require_role
from portal.accounts.roles import Role
from portal.core.web import no_store
from portal.ops import queries

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """For load balancers and monitors: 200 when the database and Redis answer, 503 naming what is down.
    Anonymous, and says nothing but ok/down (no error texts, no versions)."""
    checks = {"database": queries.check_database(), "redis": queries.check_redis()}
    body = {name: "ok" if error is None else "down" for name, error in checks.items()}
    response = jsonify(body)
    response.status_code = 200 if all(error is None for error in checks.values()) else 503
    return no_store(response, private=False)


@bp.get("/admin/health")
@require_role(Role.ADMIN)
def health():
    return render_template("ops/health.html", health=queries.health())
