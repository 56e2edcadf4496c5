"""Background jobs: queues bound to the app's Redis, and enqueue-after-commit.

`enqueue_after_commit` parks a job on the database session and pushes it to Redis only once that session's
transaction commits (a rollback drops it). If Redis is unreachable the job is logged and dropped: every job
has a sweep that finds its work again from the database.

A unique job id (`unique=True`) deduplicates concurrent enqueues: while a job of that id waits or runs (queued,
scheduled, deferred, started), another enqueue of the id is refused. Once that job is over (finished, failed,
stopped, canceled) its id refuses nothing: rq keeps an ended job's hash for days (a failed one for its
failure_ttl), and a sweep whose job died before its first write (a database error on its first query, a worker
killed just after taking it) must be able to enqueue the same id again, or the work never happens.

Queues by priority: a worker takes from "portal" (rooms, auto-end, sweeps: short jobs that must not wait) before
"mail" (batches of emails: a burst of a thousand reminders never holds up a room). `enqueue(..., queue_name=)`
picks the queue; `enqueue(..., at=)` schedules the job for a moment (the worker's scheduler moves it to its queue
then), with the same unique-id rules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis
from flask import Flask, current_app
from rq import Queue
from rq.exceptions import DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.core import redis as portal_redis

log = logging.getLogger(__name__)
QUEUE_NAME = "portal"
MAIL_QUEUE = "mail"  # batches of notifications (portal.notifications.sending): after everything else
# The queues a worker takes jobs from, most urgent first (rq takes from the first non-empty one)
WORKER_QUEUES: tuple[str, ...] = (QUEUE_NAME, MAIL_QUEUE)
_PENDING_KEY = "portal.pending_jobs"
# A job in one of these states is over: its id no longer deduplicates anything (see the module docstring).
ENDED_STATUSES = frozenset(
    s.value for s in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)
)


@dataclass
class PendingJob:
    func: Callable[..., Any] | str
    args: tuple[Any, ...]
    options: dict[str, Any] = field(default_factory=dict)


def init_queue(app: Flask) -> None:
    settings = app.extensions["portal.settings"]
    app.extensions["portal.redis_factory"] = lambda: portal_redis.connect(settings)


def get_redis() -> redis.Redis:
    ext = current_app.extensions
    if "portal.redis" not in ext:
        ext["portal.redis"] = ext["portal.redis_factory"]()
    return ext["portal.redis"]


def get_queue(name: str = QUEUE_NAME) -> Queue:
    return Queue(name, connection=get_redis())


def worker_queues() -> list[Queue]:
    """The queues a worker serves, most urgent first."""
    return [get_queue(name) for name in WORKER_QUEUES]


def enqueue(
    func: Callable[..., Any] | str,
    *args: Any,
    queue_name: str = QUEUE_NAME,
    at: datetime | None = None,
    **options: Any,
) -> bool:
    """Push a job now (or schedule it `at` a moment) on `queue_name`. Returns False (and logs) when Redis is down,
    or when a job with the same unique id still waits or runs. A unique id whose job is over is taken back: that
    job is removed and this one enqueued. `func` may be a dotted path (a job of a higher layer)."""
    try:
        queue = get_queue(queue_name)
        if options.get("unique"):
            return _enqueue_unique(queue, func, args, options, at)
        _push(queue, func, args, options, at)
        return True
    except (redis.RedisError, OSError, RuntimeError) as exc:
        log.warning("could not enqueue %s%r: %s (the sweep will catch up)", _name(func), args, exc)
        return False


def _name(func: Callable[..., Any] | str) -> str:
    return func if isinstance(func, str) else func.__name__


def schedule_time(at: datetime) -> datetime:
    """rq files a scheduled job under whole seconds, rounded down: a job for 10:00:00.4 would run at 10:00:00,
    before its moment. Round up instead (a job never runs early; at most a second late)."""
    whole = at.replace(microsecond=0)
    return whole if whole == at else whole + timedelta(seconds=1)


def _push(
    queue: Queue, func: Callable[..., Any] | str, args: tuple[Any, ...], options: dict[str, Any], at: datetime | None
) -> None:
    if at is None:
        queue.enqueue(func, *args, **options)
    else:
        queue.enqueue_at(schedule_time(at), func, *args, **options)


def _enqueue_unique(
    queue: Queue,
    func: Callable[..., Any] | str,
    args: tuple[Any, ...],
    options: dict[str, Any],
    at: datetime | None = None,
) -> bool:
    """rq's unique enqueue refuses an id while its job hash exists, ended or not: remove an ended one and try
    again. Two processes doing this at once: at most one of them enqueues (rq's check-and-save is one script)."""
    try:
        _push(queue, func, args, options, at)
        return True
    except DuplicateJobError:
        pass
    if not remove_ended_job(queue.connection, options["job_id"]):
        return False  # still waiting or running: a true duplicate
    try:
        _push(queue, func, args, options, at)
        return True
    except DuplicateJobError:
        return False  # another process enqueued it first


def remove_ended_job(connection: redis.Redis, job_id: str) -> bool:
    """Remove the job of this id (hash, registry entry, results) if it is over. False while it waits or runs (a
    true duplicate); True when a new enqueue of the id may be tried (rq's unique enqueue then decides).

    The job's hash is WATCHed from the status read to the removal, so a live job is never removed: if another
    process changes the hash meanwhile (it removed the ended job and enqueued its own first), this transaction
    fails and removes nothing."""
    key = Job.key_for(job_id)
    with connection.pipeline() as pipe:
        try:
            pipe.watch(key)
            status = pipe.hget(key, "status")
            if status is not None and status.decode() not in ENDED_STATUSES:
                return False
            if status is None and pipe.exists(key):
                return False  # a hash without a status, being written: not ours to judge
            if status is not None:
                job = Job.fetch(job_id, connection=connection)
                pipe.multi()
                job.delete(pipeline=pipe)
                pipe.execute()
        except (redis.WatchError, NoSuchJobError, InvalidJobOperation):
            pass  # changed by another process meanwhile: nothing removed here
    return True


def enqueue_after_commit(session: Session, func: Callable[..., Any] | str, *args: Any, **options: Any) -> None:
    session.info.setdefault(_PENDING_KEY, []).append(PendingJob(func, args, options))


def has_pending_jobs(session: Session) -> bool:
    """Jobs wait for this session's commit."""
    return bool(session.info.get(_PENDING_KEY))


@event.listens_for(Session, "after_commit")
def _push_pending(session: Session) -> None:
    for job in session.info.pop(_PENDING_KEY, []):
        enqueue(job.func, *job.args, **job.options)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
