"""What to tell whom when sessions and seats change (signals of training and seats). Each receiver writes
notification rows inside the sender's transaction; the rows are sent after it commits."""

from __future__ import annotations

from typing import Any

from portal.accounts import signals as account_signals
from portal.accounts.models import User
from portal.notifications import operations
from portal.notifications.account_mail import queue_account_email
from portal.seats import signals as seat_signals
from portal.seats.models import Seat
from portal.training import signals as training_signals
from portal.training.models import TrainingSession


@training_signals.session_created.connect
def plan_new_session(session: TrainingSession, **_: Any) -> None:
    operations.plan_reminders(session)


@training_signals.session_updated.connect
def tell_new_time(session: TrainingSession, *, changes: dict[str, list[Any]], **_: Any) -> None:
    if "start_time" in changes:
        operations.notify_rescheduled(session, changes["start_time"][0])


@seat_signals.seat_taken.connect
def plan_for_new_holder(session: TrainingSession, **_: Any) -> None:
    operations.plan_reminders(session)


@seat_signals.seats_promoted.connect
def tell_promoted(session: TrainingSession, *, seats: list[Seat], **_: Any) -> None:
    for seat in seats:
        operations.notify_promoted(seat)
    operations.plan_reminders(session)  # once for all of them


@seat_signals.seats_released.connect
def tell_canceled(session: TrainingSession, *, seats: list[Seat], because: str, **_: Any) -> None:
    if because == "session_canceled":
        operations.notify_canceled(session, seats)


@account_signals.account_mail.connect
def mail_account(user: User, *, kind: str, context: dict[str, Any], **_: Any) -> None:
    queue_account_email(user, kind, context)
