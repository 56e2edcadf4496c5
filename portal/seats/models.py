"""Seats (confirmed, waitlisted, canceled) and attendance of training sessions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.core.db import TimestampMixin
from portal.extensions import db


class SeatStatus(StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELED = "canceled"


class Seat(TimestampMixin, db.Model):
    """One row per person and session: a confirmed seat, a place on the waitlist, or a canceled one."""

    __tablename__ = "seats"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "user_id"),
        sa.Index("ix_seats_session_id_status", "session_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("training_sessions.id"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(12))
    confirmed_at: Mapped[datetime | None]
    waitlisted_at: Mapped[datetime | None]  # waitlist order: earliest first, then id
    canceled_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class Attendance(TimestampMixin, db.Model):
    """One row per person and session: first joined, last left, total watch time, number of joins."""

    __tablename__ = "attendance"
    __table_args__ = (sa.UniqueConstraint("session_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("training_sessions.id"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    first_joined_at: Mapped[datetime]
    last_joined_at: Mapped[datetime]
    last_left_at: Mapped[datetime | None]
    is_present: Mapped[bool] = mapped_column(default=True)
    watch_seconds: Mapped[int] = mapped_column(default=0)
    join_count: Mapped[int] = mapped_column(default=1)

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)
