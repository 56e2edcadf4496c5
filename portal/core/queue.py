"""Background jobs: queues bound to the app's Redis, and enqueue-after-commit.

`enqueue_after_commit` parks a job on the database session and pushes it to Redis only once that session's
transaction commits (a rollback drops it). If Redis is unreachable the job is logged and dropped: every job
has a sweep that finds its work again from the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from flask import Flask, current_app
from rq import Queue
from rq.exceptions import DuplicateJobError
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.core import redis as portal_redis

log = logging.getLogger(__name__)
QUEUE_NAME = "portal"
_PENDING_KEY = "portal.pending_jobs"


@dataclass
class PendingJob:
    func: Callable[..., Any]
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


def get_queue() -> Queue:
    return Queue(QUEUE_NAME, connection=get_redis())


def enqueue(func: Callable[..., Any], *args: Any, **options: Any) -> bool:
    """Push a job now. Returns False (and logs) when Redis is down or an identical unique job is queued."""
    try:
        get_queue().enqueue(func, *args, **options)
        return True
    except DuplicateJobError:
        return False
    except (redis.RedisError, OSError, RuntimeError) as exc:
        log.warning("could not enqueue %s%r: %s (the sweep will catch up)", func.__name__, args, exc)
        return False


def enqueue_after_commit(session: Session, func: Callable[..., Any], *args: Any, **options: Any) -> None:
    session.info.setdefault(_PENDING_KEY, []).append(PendingJob(func, args, options))


@event.listens_for(Session, "after_commit")
def _push_pending(session: Session) -> None:
    for job in session.info.pop(_PENDING_KEY, []):
        enqueue(job.func, *job.args, **job.options)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)
