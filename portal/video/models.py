from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.clock import now_utc
from portal.core.db import TimestampMixin
from portal.extensions import db


class RecordingStatus(StrEnum):
    RECORDING = "recording"
    UPLOADING = "uploading"
    READY = "ready"
    FAILED = "failed"


class VideoParticipant(TimestampMixin, db.Model):
    """The provider's participant for (room, user), stored as soon as it exists so it is never added twice."""

    __tablename__ = "video_participants"
    __table_args__ = (sa.UniqueConstraint("room_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("training_sessions.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    room_id: Mapped[str] = mapped_column(sa.String(64))
    participant_id: Mapped[str] = mapped_column(sa.String(64))
    preset_name: Mapped[str] = mapped_column(sa.String(64))


class LocalRoom(TimestampMixin, db.Model):
    """A room of the `local` provider: kept by the portal itself, for development and tests."""

    __tablename__ = "local_rooms"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    recording_id: Mapped[str | None] = mapped_column(sa.String(64))


class WebhookDelivery(db.Model):
    """Every verified webhook delivery, once: its key (`delivery_id`) is `sha256:<body hash>`, since the signature
    covers the body and nothing else (rows stored before that carry the provider's delivery id there; their
    `body_sha256` still identifies them). `webhook_id` is the provider's unsigned header, kept for the record.
    Unverified or too old requests are refused and never stored: a forged one must not occupy a genuine one's key."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.UniqueConstraint("provider", "delivery_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(sa.String(20))
    delivery_id: Mapped[str] = mapped_column(sa.String(100))
    webhook_id: Mapped[str | None] = mapped_column(sa.String(100))
    event: Mapped[str | None] = mapped_column(sa.String(60))
    body_sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(default=now_utc)
    processed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(sa.String(200))
