"""What to tell whom. Rows in `notifications` are the source of truth; jobs send them (portal.notifications.jobs).

Called by training and seats operations inside their transaction; they flush, the caller commits.
"""

from __future__ import annotations

from datetime import datetime

from portal.training.models import Seat, TrainingSession


def plan_reminders(session: TrainingSession) -> None:
    """Create or re-time the reminders (24 h, 1 h, 10 min before start) for the instructor and seat holders.
    A reminder whose moment has already passed when it is planned is not created (no late 24 h reminder)."""


def notify_rescheduled(session: TrainingSession, old_start_time: datetime) -> None:
    """Tell seat holders the session moved; re-time their unsent reminders."""


def notify_canceled(session: TrainingSession, seats: list[Seat]) -> None:
    """Tell the holders of `seats` (released by the cancel) that the session is canceled; drop unsent reminders."""


def notify_promoted(seat: Seat) -> None:
    """Tell a member their waitlist place became a confirmed seat."""
