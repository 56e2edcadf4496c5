from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import TimestampMixin
from portal.extensions import db


class Visibility(StrEnum):
    PUBLIC = "public"
    MEMBERS = "members"


class Event(TimestampMixin, db.Model):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    start_time: Mapped[datetime] = mapped_column(index=True)
    end_time: Mapped[datetime]
    location: Mapped[str] = mapped_column(sa.String(200), default="")
    visibility: Mapped[str] = mapped_column(sa.String(10), default=Visibility.MEMBERS.value)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # An image for the event page and list: a file name under <instance>/uploads/events (portal.core.uploads),
    # and its alt text (required with an image)
    image: Mapped[str | None] = mapped_column(sa.String(64))
    image_alt: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")

    @property
    def is_public(self) -> bool:
        return self.visibility == Visibility.PUBLIC.value
