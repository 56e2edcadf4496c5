"""The audit log for admins: who changed what, when; filterable by entity and action."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import func, select

from portal.accounts.auth import require_role
from portal.accounts.roles import Role
from portal.audit.models import AuditEntry
from portal.core.api import int_arg
from portal.extensions import db

bp = Blueprint("audit", __name__)
PAGE_SIZE = 100


@bp.get("/admin/audit", endpoint="index")
@require_role(Role.ADMIN)
def index():
    entity_type = (request.args.get("entity_type") or "").strip()
    entity_id = int_arg("entity_id", None, minimum=1, maximum=2**31 - 1)
    action = (request.args.get("action") or "").strip()
    page = int_arg("page", 1, minimum=1, maximum=10_000)
    stmt = select(AuditEntry)
    if entity_type:
        stmt = stmt.where(AuditEntry.entity_type == entity_type)
    if entity_id is not None:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    entries = db.session.scalars(stmt.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
                                 .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    entity_types = db.session.scalars(select(AuditEntry.entity_type).distinct().order_by(AuditEntry.entity_type))
    return render_template("audit/index.html", entries=entries, total=total, page=page, page_size=PAGE_SIZE,
                           entity_types=list(entity_types),
                           filters={"entity_type": entity_type, "entity_id": entity_id or "", "action": action})
