"""Dispatching due rows, and the reminders sweep.

`dispatch_due` decides which due rows go out and fans them out in batches (portal.notifications.sending sends each
batch, on each row's channel). It runs at each row's moment: planning schedules it (one job per second that has
due rows, `sending.schedule_dispatch`), so a reminder goes out within a few seconds of its time.

The sweep (every minute) is the safety net: it recovers dead claims, plans the reminders nobody planned yet (a
cheap check: only sessions with a recipient missing a row), dispatches whatever is due (a moment job lost with a
Redis restart), and schedules the moments of the next minutes again (unique ids: no double)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from portal.config import current_settings
from portal.core.clock import now_utc
from portal.extensions import db
from portal.notifications import operations, queries
from portal.notifications.channels import announce_transport, enabled_channels
from portal.notifications.models import Notification
from portal.notifications.rules import (
    STALE_CLAIM_AFTER,
    DueReminder,
    decide_due,
    is_reminder,
    is_reminder_recipient,
    reminder_kind,
    send_backoff,
)
from portal.notifications.sending import enqueue_send_many, recover_stale_claims, schedule_dispatch, skip
from portal.training.models import TrainingSession

PLAN_MARGIN_HOURS = 1  # reminders exist this long before their moment
LOOKAHEAD = timedelta(minutes=3)  # the sweep schedules the moments this far ahead again (lost with Redis?)


def sweep_reminders() -> dict[str, int]:
    """Every minute: recover dead claims, plan reminders nobody planned, dispatch what is due, and make sure the
    moments of the next minutes are scheduled."""
    settings = current_settings()
    announce_transport(settings)
    now = now_utc()
    recovered = recover_stale_claims(queries.stale_claims(now, STALE_CLAIM_AFTER))
    horizon = max(settings.REMINDER_OFFSETS) + timedelta(hours=PLAN_MARGIN_HOURS)
    kinds = [reminder_kind(offset) for offset in settings.REMINDER_OFFSETS]
    unplanned = queries.sessions_needing_plan(now, horizon, enabled_channels(settings), kinds)
    operations.plan_reminders_many(unplanned)
    db.session.commit()
    result = dispatch_due(now=now)
    schedule_dispatch(queries.pending_moments(now, now + LOOKAHEAD))
    return {"recovered": recovered, "planned_sessions": len(unplanned), **result}


def dispatch_due(now: datetime | None = None) -> dict[str, int]:
    """Decide which due rows go out (only the latest due per person and channel; none after the start; none still
    at the moment of an older start time) and enqueue them in batches on the mail queue. Rows waiting out a
    failure's backoff get a dispatch at its end."""
    now = now or now_utc()
    due = queries.pending_due(now)
    to_send, skipped, stale_sessions = _decide(due, now)
    skip(skipped)
    operations.plan_reminders_many(stale_sessions)  # re-timed now, sent (or skipped) at their own moment
    db.session.commit()
    by_id = {row.id: row for row in due}
    ready, later = [], set()
    for row in (by_id[i] for i in to_send):
        if queries.ready_to_try(row, now):
            ready.append(row)
        else:
            later.add(row.claimed_at + send_backoff(row.attempts))
    jobs = enqueue_send_many(ready)
    schedule_dispatch(later)
    return {"enqueued": len(ready), "jobs": jobs, "skipped": len(skipped)}


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
