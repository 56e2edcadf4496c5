"""Imports every model so the metadata (create_all, Alembic) sees every table."""

from portal.accounts.models import User
from portal.audit.models import AuditEntry
from portal.events.models import Event
from portal.notifications.models import Heartbeat, Notification
from portal.training.models import Attendance, Seat, TrainingSession
from portal.video.models import LocalRoom, VideoParticipant, WebhookDelivery

__all__ = [
    "Attendance",
    "AuditEntry",
    "Event",
    "Heartbeat",
    "LocalRoom",
    "Notification",
    "Seat",
    "TrainingSession",
    "User",
    "VideoParticipant",
    "WebhookDelivery",
]
