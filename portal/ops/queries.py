"""Health of the portal's parts: database, Redis, the worker and cron processes, the queue and failed jobs.
Each check answers on its own: a part that is down never stops the others from being reported.

Its counts do not grow with history: what is open now (failed rooms of sessions to come, emails waiting or being
sent) and what happened in the last RECENT (emails sent, skipped, failed), each counted from an index alone."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import redis
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import func, select, text, union_all

from portal.config import current_settings
from portal.core.clock import now_utc
from portal.core.queue import get_queue, worker_queues
from portal.extensions import db
from portal.notifications.models import Notification, NotificationStatus
from portal.ops.heartbeat import PIPELINE, is_alive
from portal.ops.models import Heartbeat
from portal.training.models import RoomStatus, SessionStatus, TrainingSession

log = logging.getLogger(__name__)
RECENT = timedelta(hours=24)  # the window of Health's counts of what happened
OPEN_NOTIFICATIONS = (NotificationStatus.PENDING.value, NotificationStatus.SENDING.value)


def check_database() -> str | None:
    """None when fine, else what is wrong."""
    try:
        db.session.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        db.session.rollback()
        return f"{type(exc).__name__}: {exc}"[:300]


def check_redis() -> str | None:
    try:
        get_queue().connection.ping()
        return None
    except (redis.RedisError, OSError, RuntimeError) as exc:
        return f"{type(exc).__name__}: {exc}"[:300]


@dataclass
class Process:
    name: str
    seen_at: datetime
    alive: bool


@dataclass
class Health:
    database_error: str | None
    redis_error: str | None
    workers: list[Process] = field(default_factory=list)
    crons: list[Process] = field(default_factory=list)
    pipeline_seen_at: datetime | None = None
    queued: int | None = None
    scheduled: int | None = None
    running: int | None = None
    failed: int | None = None
    rooms_failed: int | None = None
    notifications: dict[str, int] = field(default_factory=dict)  # status -> count (open now, or within RECENT)
    recent_hours: int = int(RECENT.total_seconds() // 3600)

    @property
    def worker_alive(self) -> bool:
        return any(p.alive for p in self.workers)

    @property
    def cron_alive(self) -> bool:
        return any(p.alive for p in self.crons)


def health() -> Health:
    report = Health(check_database(), check_redis())
    if report.database_error is None:
        _add_database_facts(report)
    if report.redis_error is None:
        queues = worker_queues()  # rooms and auto-end, then mail
        report.queued = sum(queue.count for queue in queues)
        report.scheduled = sum(ScheduledJobRegistry(queue=queue).count for queue in queues)
        report.running = sum(StartedJobRegistry(queue=queue).count for queue in queues)
        report.failed = sum(FailedJobRegistry(queue=queue).count for queue in queues)
    return report


def _add_database_facts(report: Health) -> None:
    now = now_utc()
    every = current_settings().WORKER_HEARTBEAT_SECONDS
    beats = db.session.scalars(select(Heartbeat).order_by(Heartbeat.seen_at.desc())).all()
    for beat in beats:
        if beat.kind == PIPELINE:
            report.pipeline_seen_at = beat.seen_at
        elif beat.kind in ("worker", "cron"):
            process = Process(beat.name, beat.seen_at, is_alive(beat, now, every))
            (report.workers if beat.kind == "worker" else report.crons).append(process)
    report.rooms_failed = db.session.scalar(
        select(func.count())
        .select_from(TrainingSession)
        .where(
            TrainingSession.room_status == RoomStatus.FAILED.value,
            TrainingSession.status.in_([SessionStatus.SCHEDULED.value, SessionStatus.LIVE.value]),
        )
    )
    report.notifications = notification_counts(now)


def notification_counts(now: datetime) -> dict[str, int]:
    """Rows waiting or being sent now, and rows sent, skipped or failed within RECENT, by status: one statement
    read from notifications' status indexes alone (status, updated_at); every status is present."""
    counts = dict.fromkeys((status.value for status in NotificationStatus), 0)
    open_now = (
        select(Notification.status, func.count())
        .where(Notification.status.in_(OPEN_NOTIFICATIONS))
        .group_by(Notification.status)
    )
    recent = (
        select(Notification.status, func.count())
        .where(
            Notification.status.in_([s for s in counts if s not in OPEN_NOTIFICATIONS]),
            Notification.updated_at >= now - RECENT,
        )
        .group_by(Notification.status)
    )
    counts.update(dict(db.session.execute(union_all(open_now, recent)).all()))
    return counts
