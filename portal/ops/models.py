"""Signs of life of the background processes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db


class Heartbeat(db.Model):
    """Last sign of life of a background process (worker, cron), shown to admins."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)  # e.g. worker:host:pid, cron
    kind: Mapped[str] = mapped_column(sa.String(20))
    seen_at: Mapped[datetime]
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
