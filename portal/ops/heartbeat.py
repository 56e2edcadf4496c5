"""Signs of life of the background processes, kept in the `heartbeats` table (readable even when Redis is down)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rq import get_current_job
from sqlalchemy import delete

from portal.core.clock import now_utc
from portal.core.db import upsert_insert
from portal.extensions import db
from portal.ops.beats import process_name
from portal.ops.models import Heartbeat

__all__ = ["PIPELINE", "beat", "forget_silent", "is_alive", "process_name", "worker_beat"]


def beat(name: str, kind: str, details: dict[str, Any] | None = None) -> None:
    """Upsert this process's row and commit (its own small transaction)."""
    values = {"name": name, "kind": kind, "seen_at": now_utc(), "details": details or {}}
    db.session.execute(
        upsert_insert(Heartbeat, db.session)
        .values(values)
        .on_conflict_do_update(
            index_elements=["name"], set_={"seen_at": values["seen_at"], "details": values["details"]}
        )
    )
    db.session.commit()


PIPELINE = "pipeline"


def worker_beat() -> str:
    """A periodic job: its run proves the whole path cron -> Redis -> worker -> database works."""
    job = get_current_job()
    beat(PIPELINE, PIPELINE, {"job_id": job.id if job else None, "worker": getattr(job, "worker_name", None)})
    return PIPELINE


def is_alive(heartbeat: Heartbeat, now: datetime, every_seconds: int) -> bool:
    return now - heartbeat.seen_at <= timedelta(seconds=3 * every_seconds)


def forget_silent(days: int = 1) -> int:
    """A periodic job: forget processes silent for `days` (restarted workers get new names)."""
    result = db.session.execute(
        delete(Heartbeat).where(Heartbeat.seen_at < now_utc() - timedelta(days=days), Heartbeat.kind != PIPELINE)
    )
    db.session.commit()
    return result.rowcount
