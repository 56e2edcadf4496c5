"""What to tell whom when sessions and seats change (signals of training and seats). Each receiver writes
notification rows inside the sender's transaction; the rows are sent after it commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portal.accounts import signals as account_signals
from portal.accounts.models import User
from portal.notifications import operations, queries
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
    if because != "session_canceled":
        return
    if training_signals.in_series_change():
        operations.drop_pending_reminders(session)  # the people are told once, by tell_series_change
    else:
        operations.notify_canceled(session, seats)


@training_signals.series_changed.connect
def tell_series_change(
    series: Any, *, action: str, session_ids: list[int], changes: dict, at: datetime, **_: Any
) -> None:
    """Several occurrences changed in one step: one email per person listing every affected date."""
    by_id = queries.sessions_by_id(set(session_ids))
    sessions = sorted((by_id[i] for i in session_ids if i in by_id), key=lambda s: (s.start_time, s.id))
    recipients = queries.series_change_recipients(action, session_ids, at)
    operations.notify_series_change(series.id, action, sessions, recipients, changes, at)


@account_signals.account_mail.connect
def mail_account(user: User, *, kind: str, context: dict[str, Any], **_: Any) -> None:
    queue_account_email(user, kind, context)
