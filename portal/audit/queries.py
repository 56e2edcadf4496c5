"""Reads of the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.audit.models import AuditEntry
from portal.core.errors import BadRequest
from portal.core.validation import storable_text
from portal.extensions import db


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int
    entity_types: list[str]


def audit_page(
    *, entity_type: str = "", entity_id: int | None = None, action: str = "", page: int = 1, page_size: int = 100
) -> AuditPage:
    """One page of entries, newest first, filtered by whichever of entity type, id and action are given. A filter
    holding a NUL (PostgreSQL refuses to compare one) is a BadRequest."""
    if not (storable_text(entity_type) and storable_text(action)):
        raise BadRequest(_l("A filter contains a character that is not allowed."), code="malformed")
    stmt = select(AuditEntry)
    if entity_type:
        stmt = stmt.where(AuditEntry.entity_type == entity_type)
    if entity_id is not None:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    entries = db.session.scalars(
        stmt.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return AuditPage(list(entries), total, entity_types())


def entity_types() -> list[str]:
    """Each entity type once, in order: a hop along the (entity_type, entity_id) index from one type to the next
    (a loose index scan, one probe per type), not a read of every entry as DISTINCT would be."""
    types = select(func.min(AuditEntry.entity_type).label("name")).cte("entity_types", recursive=True)
    following = select(func.min(AuditEntry.entity_type)).where(AuditEntry.entity_type > types.c.name)
    types = types.union_all(select(following.scalar_subquery()).where(types.c.name.is_not(None)))
    return list(db.session.scalars(select(types.c.name).where(types.c.name.is_not(None)).order_by(types.c.name)))
