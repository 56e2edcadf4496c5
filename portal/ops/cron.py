"""The cron process: enqueue the periodic jobs of portal.schedule at their UTC times. Run exactly one in
production (`portal cron`); a second one does no harm.

Why our own small loop and not rq's built-in CronScheduler (rq 3.0): rq's evaluates cron strings in the
machine's local time zone (we want UTC whatever TZ says), gives every enqueue a random job id and has no
lock, so two cron processes enqueue every job twice. Here every enqueue has a deterministic id
`cron-<name>-<UTC slot>` with unique=True: any number of cron processes enqueue each slot once. The loop also
records the cron heartbeat, and keeps a slot it could not enqueue (Redis down) until Redis is back.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import redis
from croniter import croniter
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError

from portal.app import create_app
from portal.core.clock import now_utc
from portal.core.queue import get_queue
from portal.core.redis import release_embedded
from portal.extensions import db
from portal.ops.heartbeat import beat, process_name
from portal.schedule import SCHEDULE, Periodic

log = logging.getLogger("portal.cron")
TICK_SECONDS = 1.0


def slot_job_id(entry: Periodic, slot: datetime) -> str:
    return f"cron-{entry.name}-{slot:%Y%m%dT%H%M}"


def latest_slot(entry: Periodic, after: datetime, until: datetime) -> datetime | None:
    """The last moment of `entry`'s cron in (after, until], in UTC; None if there is none. Missed earlier slots
    are folded into it: a sweep that runs once covers them all."""
    it = croniter(entry.cron, after.astimezone(UTC))  # aware UTC in, aware UTC out: never the local zone
    slot = None
    while True:
        candidate = it.get_next(datetime)
        if candidate > until:
            return slot
        slot = candidate


def enqueue_slot(queue: Queue, entry: Periodic, slot: datetime) -> bool:
    """True if this call enqueued the slot's job; False if another cron process already did."""
    try:
        retry = (
            Retry(max=len(entry.retry_intervals), interval=list(entry.retry_intervals))
            if entry.retry_intervals
            else None
        )
        queue.enqueue(
            entry.func,
            job_id=slot_job_id(entry, slot),
            unique=True,
            job_timeout=entry.timeout,
            result_ttl=3600,
            failure_ttl=7 * 86400,
            retry=retry,
            description=f"{entry.name} @ {slot:%H:%M} UTC",
        )
    except DuplicateJobError:
        return False
    return True


class CronLoop:
    def __init__(self, queue: Queue, *, schedule: tuple[Periodic, ...] = SCHEDULE, beat=None, beat_every: float = 30.0):
        self.queue = queue
        self.schedule = schedule
        self.beat = beat
        self.beat_every = beat_every
        self.stopping = threading.Event()
        start = now_utc().replace(second=0, microsecond=0) - timedelta(microseconds=1)
        self.done_until = dict.fromkeys((e.name for e in schedule), start)  # slots up to here are enqueued
        self._last_beat = 0.0

    def tick(self, now: datetime | None = None) -> list[str]:
        """Enqueue what is due up to `now`; returns the job ids this call enqueued."""
        now = now or now_utc()
        enqueued = []
        for entry in self.schedule:
            slot = latest_slot(entry, self.done_until[entry.name], now)
            if slot is None:
                continue
            try:
                if enqueue_slot(self.queue, entry, slot):
                    enqueued.append(slot_job_id(entry, slot))
                    log.info("enqueued %s", slot_job_id(entry, slot))
            except (redis.RedisError, OSError) as exc:
                log.warning("could not enqueue %s (kept for the next tick): %s", entry.name, exc)
                continue
            self.done_until[entry.name] = now
        return enqueued

    def run(self) -> None:
        log.info("cron started: %s (UTC)", ", ".join(f"{e.name} [{e.cron}]" for e in self.schedule))
        while not self.stopping.is_set():
            self.tick()
            if self.beat and time.monotonic() - self._last_beat >= self.beat_every:
                try:
                    self.beat()
                    self._last_beat = time.monotonic()
                except Exception as exc:  # the database may be briefly unavailable; keep scheduling
                    log.warning("cron heartbeat not recorded: %s", exc)
            self.stopping.wait(TICK_SECONDS)
        log.info("cron stopped")

    def stop(self, *_args) -> None:
        self.stopping.set()


def main() -> None:
    """`python -m portal.ops.cron` / `portal cron`: the one process that enqueues periodic jobs."""

    app = create_app()
    settings = app.extensions["portal.settings"]
    name = process_name("cron")

    def heartbeat() -> None:
        with app.app_context():
            try:
                beat(name, "cron", {"schedule": [e.name for e in SCHEDULE]})
            finally:
                db.session.remove()

    with app.app_context():
        loop = CronLoop(get_queue(), beat=heartbeat, beat_every=settings.WORKER_HEARTBEAT_SECONDS)
    signal.signal(signal.SIGTERM, loop.stop)
    signal.signal(signal.SIGINT, loop.stop)
    try:
        loop.run()
    finally:
        release_embedded()


if __name__ == "__main__":
    main()
