"""Imports every model so the metadata (create_all, Alembic) sees every table."""

from portal.accounts.models import User
from portal.audit.models import AuditEntry
from portal.events.models import Event
from portal.notifications.models import Notification
from portal.ops.models import Heartbeat
from portal.seats.feed_models import CalendarFeed
from portal.seats.models import Attendance, Seat
from portal.seats.no_show_models import NoShowRelease
from portal.seats.standing_models import StandingBooking
from portal.training.models import TrainingSession
from portal.training.series_models import TrainingSeries
from portal.video.models import LocalRoom, VideoParticipant, WebhookDelivery

__all__ = [
    "Attendance",
    "AuditEntry",
    "CalendarFeed",
    "Event",
    "Heartbeat",
    "LocalRoom",
    "NoShowRelease",
    "Notification",
    "Seat",
    "StandingBooking",
    "TrainingSeries",
    "TrainingSession",
    "User",
    "VideoParticipant",
    "WebhookDelivery",
]
