from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.core.clock import now_utc
from portal.extensions import db


class AuditEntry(db.Model):
    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=now_utc, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))  # None: the system (a worker)
    action: Mapped[str] = mapped_column(sa.String(40))  # e.g. session.create, session.start
    entity_type: Mapped[str] = mapped_column(sa.String(40))  # e.g. training_session, event, user
    entity_id: Mapped[int]
    changes: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)  # field -> [old, new], or details

    actor: Mapped[User | None] = relationship(lazy="joined")
