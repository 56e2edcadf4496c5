from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import TimestampMixin
from portal.extensions import db

CHANNEL_NAME_LENGTH = 20  # the width of Notification.channel: a channel with a longer name cannot register


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by one worker; the claim is the exactly-once guard
    SENT = "sent"
    SKIPPED = "skipped"  # its moment passed (a later one was due, or the session started / was canceled)
    FAILED = "failed"  # gave up after retries


class Notification(TimestampMixin, db.Model):
    """One message to one person on one channel (portal.notifications.channels). (channel, key) is unique: a
    reminder's key is (kind, session, person), so each channel sends it once."""

    __tablename__ = "notifications"
    __table_args__ = (
        sa.UniqueConstraint("channel", "key"),
        sa.Index("ix_notifications_status_due_at", "status", "due_at"),
        sa.Index("ix_notifications_status_updated_at", "status", "updated_at"),  # Health: recent counts by status
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(CHANNEL_NAME_LENGTH))  # the channel composing and delivering it
    key: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[str] = mapped_column(sa.String(30))  # reminder_24h, reminder_1h, reminder_10m, rescheduled, ...
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(sa.ForeignKey("training_sessions.id"), index=True)
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(sa.String(10), default=NotificationStatus.PENDING.value)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    context: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
