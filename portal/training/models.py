"""Training sessions and what hangs off them. One name per concept, from the column to the template."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.core.db import TimestampMixin
from portal.events.models import Event
from portal.extensions import db


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    CANCELED = "canceled"

    @property
    def is_final(self) -> bool:
        """Ended or canceled: the session can no longer change, be joined, or take seats. The one definition."""
        return self in (SessionStatus.ENDED, SessionStatus.CANCELED)


# SessionStatus.is_final as a list of values, for SQL (`status IN` / `NOT IN`).
FINAL_STATUSES = tuple(status.value for status in SessionStatus if status.is_final)


class RoomStatus(StrEnum):
    NONE = "none"  # not asked for yet
    PENDING = "pending"  # provisioning queued
    READY = "ready"
    FAILED = "failed"  # last attempt failed; the sweep retries
    INACTIVE = "inactive"  # deactivated after cancel / cleanup


class EndReason(StrEnum):
    INSTRUCTOR = "instructor"
    OVERDUE = "overdue"
    NOT_STARTED = "not_started"
    PROVIDER = "provider"  # the provider reported the meeting ended


# The partial indexes of lists and sweeps: archived history is not in them.
_UNARCHIVED = {"sqlite_where": sa.text("archived_at IS NULL"), "postgresql_where": sa.text("archived_at IS NULL")}


class TrainingSession(TimestampMixin, db.Model):
    __tablename__ = "training_sessions"
    __table_args__ = (
        sa.CheckConstraint("capacity IS NULL OR capacity >= 1", name="capacity_positive"),
        sa.CheckConstraint("seats_taken >= 0", name="seats_taken_not_negative"),
        sa.CheckConstraint("capacity IS NULL OR seats_taken <= capacity", name="seats_within_capacity"),
        sa.Index("ix_training_sessions_status_start_time", "status", "start_time"),
        # Every sweep's and page's filter and order has an index (issue 13): lists by start / created / title,
        # auto-end and archiving by status and end, an instructor's and an event's sessions, rooms by status.
        sa.Index("ix_training_sessions_unarchived_start_time", "start_time", "id", **_UNARCHIVED),
        sa.Index("ix_training_sessions_unarchived_created_at", "created_at", "id", **_UNARCHIVED),
        sa.Index("ix_training_sessions_unarchived_title", "title", "id", **_UNARCHIVED),
        sa.Index("ix_training_sessions_unarchived_status_end_time", "status", "end_time", **_UNARCHIVED),
        sa.Index("ix_training_sessions_unarchived_instructor_id", "instructor_id", "start_time", "id", **_UNARCHIVED),
        sa.Index("ix_training_sessions_unarchived_event_id", "event_id", "start_time", "id", **_UNARCHIVED),
        sa.Index("ix_training_sessions_room_status_status", "room_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("events.id"), index=True)
    series_id: Mapped[int | None] = mapped_column(sa.ForeignKey("training_series.id"), index=True)  # issue 11
    instructor_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    start_time: Mapped[datetime]
    duration_minutes: Mapped[int]
    end_time: Mapped[datetime] = mapped_column(index=True)  # derived: start_time + duration, kept by set_schedule
    capacity: Mapped[int | None]
    seats_taken: Mapped[int] = mapped_column(default=0)  # confirmed seats; changed only by the atomic seat claim
    recording_enabled: Mapped[bool] = mapped_column(default=False)
    chat_enabled: Mapped[bool] = mapped_column(default=True)
    is_public: Mapped[bool] = mapped_column(default=False)
    members_only: Mapped[bool] = mapped_column(default=True)
    tags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    status: Mapped[str] = mapped_column(sa.String(12), default=SessionStatus.SCHEDULED.value)
    room_id: Mapped[str | None] = mapped_column(sa.String(64))
    room_status: Mapped[str] = mapped_column(sa.String(12), default=RoomStatus.NONE.value)
    room_error: Mapped[str | None] = mapped_column(sa.String(500))
    room_attempts: Mapped[int] = mapped_column(default=0)
    room_next_attempt_at: Mapped[datetime | None]
    # Who is creating the room right now (training.rooms.ensure_room): one creator per session; a claim older than
    # rooms.ROOM_CLAIM_LEASE is a crashed creator's and may be taken over.
    room_claim: Mapped[str | None] = mapped_column(sa.String(32))
    room_claimed_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(sa.String(20))
    recording_id: Mapped[str | None] = mapped_column(sa.String(64))
    recording_status: Mapped[str | None] = mapped_column(sa.String(12))
    recording_url: Mapped[str | None] = mapped_column(sa.String(2000))
    recording_url_expires_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]
    # The session day (issue 12): no-shows' seats go to the waitlist 5 minutes after going live when on; when the
    # late-instructor routine told members and instructors (once).
    release_no_shows: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    late_notice_at: Mapped[datetime | None]

    instructor: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    event: Mapped[Event | None] = relationship(lazy="joined")

    assistants: Mapped[list[User]] = relationship(
        secondary="session_assistants", lazy="select", order_by="User.id", viewonly=True
    )

    def set_schedule(self, start_time: datetime, duration_minutes: int) -> None:
        self.start_time = start_time
        self.duration_minutes = duration_minutes
        self.end_time = start_time + timedelta(minutes=duration_minutes)

    @property
    def is_final(self) -> bool:
        return SessionStatus(self.status).is_final

    @property
    def assistant_ids(self) -> list[int]:
        """The assistants' user ids, ascending (the JSON's `assistant_ids`; written by training.operations)."""
        return [assistant.id for assistant in self.assistants]

    def __repr__(self) -> str:
        return f"<TrainingSession {self.id} {self.title!r} {self.status}>"


# A session's instructors are its lead (TrainingSession.instructor_id) and up to MAX_ASSISTANTS assistants.
MAX_ASSISTANTS = 3


class SessionAssistant(db.Model):
    """An assistant instructor of a session: may edit, start and end it and see its attendance (SPEC, second
    stage). Rows are written by training.operations; `TrainingSession.assistants` reads them."""

    __tablename__ = "session_assistants"

    session_id: Mapped[int] = mapped_column(sa.ForeignKey("training_sessions.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True, index=True)
