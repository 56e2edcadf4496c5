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
from portal.training.models import EndReason, TrainingSession


@training_signals.session_created.connect
def plan_new_session(session: TrainingSession, **_: Any) -> None:
    operations.plan_reminders(session)


@training_signals.session_updated.connect
def tell_new_time(session: TrainingSession, *, changes: dict[str, list[Any]], **_: Any) -> None:
    if "start_time" in changes:
        operations.notify_rescheduled(session, changes["start_time"][0])


@seat_signals.seat_taken.connect
def plan_for_new_holder(session: TrainingSession, *, seat: Seat | None = None, via: str = "reserve", **_: Any) -> None:
    """Plan the holder's reminders; confirm a reserved seat (a seat taken on joining, or by a standing booking on
    each date, is not confirmed per date); a seat taken inside the last reminder's window gets "starting now"
    (not one taken on joining: that person is in the room)."""
    operations.plan_reminders(session)
    if seat is None:
        return
    if via == "reserve":
        operations.confirm_seat(seat, "seat_reserved")
    if via != "join":
        operations.notify_starting_now(session, [seat.user_id])


@seat_signals.seat_waitlisted.connect
def confirm_waitlist_place(session: TrainingSession, *, seat: Seat, via: str = "reserve", **_: Any) -> None:
    if via == "reserve":
        operations.confirm_seat(seat, "seat_waitlisted")


@seat_signals.seat_given_up.connect
def confirm_given_up(session: TrainingSession, *, seat: Seat, **_: Any) -> None:
    operations.confirm_seat(seat, "seat_canceled")


@seat_signals.seats_promoted.connect
def tell_promoted(session: TrainingSession, *, seats: list[Seat], **_: Any) -> None:
    for seat in seats:
        operations.notify_promoted(seat)
    operations.plan_reminders(session)  # once for all of them
    operations.notify_starting_now(session, [seat.user_id for seat in seats])


@seat_signals.seats_released.connect
def tell_canceled(session: TrainingSession, *, seats: list[Seat], because: str, **_: Any) -> None:
    if because == "no_show":
        operations.notify_no_show_released(session, seats)
        return
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


@training_signals.session_ended.connect
def tell_not_started(session: TrainingSession, **_: Any) -> None:
    if session.end_reason == EndReason.NOT_STARTED.value:
        operations.notify_not_started(session)


@training_signals.instructor_late.connect
def tell_instructors_late(session: TrainingSession, **_: Any) -> None:
    operations.notify_instructor_late(session)


@training_signals.recording_ready.connect
def tell_recording_ready(session: TrainingSession, **_: Any) -> None:
    operations.notify_recording_ready(session)


@training_signals.lead_changed.connect
def tell_new_lead(session: TrainingSession, *, old_lead_id: int, new_lead_id: int, **_: Any) -> None:
    operations.notify_lead_changed(session, old_lead_id, new_lead_id)


@account_signals.account_mail.connect
def mail_account(user: User, *, kind: str, context: dict[str, Any], **_: Any) -> None:
    queue_account_email(user, kind, context)
