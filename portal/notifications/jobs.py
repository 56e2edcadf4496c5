"""The reminders sweep (every minute): recovers dead claims, plans, decides which due rows go out and fans out one
send job per row (portal.notifications.sending sends it, on the row's channel)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from portal.config import current_settings
from portal.core.clock import now_utc
from portal.extensions import db
from portal.notifications import operations, queries
from portal.notifications.channels import announce_transport
from portal.notifications.models import Notification
from portal.notifications.rules import STALE_CLAIM_AFTER, DueReminder, decide_due, is_reminder, is_reminder_recipient
from portal.notifications.sending import enqueue_send, recover_stale_claims, skip
from portal.training.models import TrainingSession

PLAN_MARGIN_HOURS = 1  # reminders exist this long before their moment


def sweep_reminders() -> dict[str, int]:
    """Every minute: recover dead claims, plan reminders for sessions coming up, decide which due rows go
    out (only the latest due per person and channel; none after the start; none still at the moment of an older
    start time) and enqueue one send job per row."""
    settings = current_settings()
    announce_transport(settings)
    now = now_utc()
    recovered = recover_stale_claims(queries.stale_claims(now, STALE_CLAIM_AFTER))
    horizon = max(settings.REMINDER_OFFSETS) + timedelta(hours=PLAN_MARGIN_HOURS)
    operations.plan_reminders_many(queries.sessions_to_plan(now, horizon))
    db.session.commit()

    due = queries.pending_due(now)
    to_send, skipped, stale_sessions = _decide(due, now)
    skip(skipped)
    operations.plan_reminders_many(stale_sessions)  # re-timed now, sent (or skipped) at their own moment
    db.session.commit()
    by_id = {row.id: row for row in due}
    sent = [by_id[i] for i in to_send if queries.ready_to_try(by_id[i], now)]
    for row in sent:
        enqueue_send(row)
    return {"recovered": recovered, "enqueued": len(sent), "skipped": len(skipped)}


def _decide(due: list[Notification], now: datetime) -> tuple[list[int], dict[int, str], list[TrainingSession]]:
    """Notices all go; reminders are decided per person, session and channel (each channel sends its latest).
    Also returns the sessions whose reminders are still at an older start time's moment (to plan again)."""
    to_send: list[int] = []
    skipped: dict[int, str] = {}
    stale_sessions: dict[int, TrainingSession] = {}
    groups: dict[tuple[str, int | None, int], list[Notification]] = defaultdict(list)
    for row in due:
        if is_reminder(row.kind):
            groups[(row.channel, row.session_id, row.user_id)].append(row)
        else:
            to_send.append(row.id)
    sessions = queries.sessions_by_id({session_id for _, session_id, _ in groups})
    seated = queries.confirmed_pairs(set(sessions))
    for (_, session_id, user_id), rows in groups.items():
        session = sessions.get(session_id)
        if session is None:
            skipped.update({r.id: "the session is gone" for r in rows})
            continue
        is_recipient = is_reminder_recipient(
            user_id, instructor_id=session.instructor_id, holds_confirmed_seat=(session_id, user_id) in seated
        )
        decision = decide_due(
            [DueReminder(r.id, r.kind, r.due_at) for r in rows],
            now=now,
            start_time=session.start_time,
            session_status=session.status,
            is_recipient=is_recipient,
        )
        to_send.extend(decision.send)
        skipped.update(decision.skip)
        if decision.stale:
            stale_sessions[session.id] = session
    return to_send, skipped, list(stale_sessions.values())
