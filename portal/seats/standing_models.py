"""Standing bookings: a member books a whole training series (a seat or waitlist place on every future occurrence,
and on occurrences made later)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import TimestampMixin
from portal.extensions import db


class StandingBooking(TimestampMixin, db.Model):
    """One row per person and series; `ended_at` set when they end it (booking again reopens the row)."""

    __tablename__ = "standing_bookings"
    __table_args__ = (sa.UniqueConstraint("series_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(sa.ForeignKey("training_series.id"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    ended_at: Mapped[datetime | None]
