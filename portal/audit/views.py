"""The audit log for admins: who changed what, when; filterable by entity and action."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from portal.accounts.auth import require_role
from portal.accounts.roles import Role
from portal.audit import queries
from portal.core.api import int_arg
from portal.core.validation import MAX_ID

bp = Blueprint("audit", __name__)
PAGE_SIZE = 100


@bp.get("/admin/audit", endpoint="index")
@require_role(Role.ADMIN)
def index():
    entity_type = (request.args.get("entity_type") or "").strip()
    entity_id = int_arg("entity_id", None, minimum=1, maximum=MAX_ID)
    action = (request.args.get("action") or "").strip()
    page = int_arg("page", 1, minimum=1, maximum=10_000)
    found = queries.audit_page(
        entity_type=entity_type, entity_id=entity_id, action=action, page=page, page_size=PAGE_SIZE
    )
    return render_template(
        "audit/index.html",
        entries=found.entries,
        total=found.total,
        page=page,
        page_size=PAGE_SIZE,
        entity_types=found.entity_types,
        filters={"entity_type": entity_type, "entity_id": entity_id or "", "action": action},
    )
