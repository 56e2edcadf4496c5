"""The cron process: enqueue the periodic jobs of portal.schedule at their UTC times. Run exactly one in
production (`portal cron`); a second one does no harm.

Why our own small loop and not rq's built-in CronScheduler (rq 3.0): rq's evaluates cron strings in the
machine's local time zone (we want UTC whatever TZ says), gives every enqueue a random job id and has no
lock, so two cron processes enqueue every job twice. Here every enqueue has a deterministic id
`cron-<name>-<UTC slot>` with unique=True: any number of cron processes enqueue each slot once. The loop also
records the cron heartbeat, and keeps a slot it could not enqueue (Redis down) until Redis is back.

Light on purpose: enqueueing needs only the settings and Redis (jobs are named by dotted path), and the heartbeat
one table, so this module never builds the Flask app nor imports the packages (issue 13: the process took
82 MiB with the whole app; see `main`). It rides out Redis and database outages: a failure is logged when
the outage starts and when it ends (class Outage), never at every tick, and the loop goes on.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import UTC, datetime, timedelta

import click
import redis
import sqlalchemy as sa
from croniter import croniter
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError

from portal.config import ConfigError, load_settings
from portal.core import redis as portal_redis
from portal.core.clock import now_utc
from portal.core.queue import QUEUE_NAME
from portal.ops.beats import process_name, record_beat
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


class Outage:
    """Logs an outage once when it starts (with the first error) and once when it ends (with its length),
    rather than at every failed attempt."""

    def __init__(self, what: str, meanwhile: str):
        self.what, self.meanwhile = what, meanwhile
        self.since: float | None = None
        self.failures = 0

    def failed(self, exc: BaseException) -> None:
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            log.warning("%s is unavailable (%s: %s); %s", self.what, type(exc).__name__, exc, self.meanwhile)

    def succeeded(self) -> None:
        if self.since is not None:
            log.warning(
                "%s is back after %.0f s (%d failed attempts)", self.what, time.monotonic() - self.since, self.failures
            )
            self.since, self.failures = None, 0


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
        self.redis_outage = Outage("Redis", "due jobs are kept and enqueued when it is back")
        self.db_outage = Outage("the database", "the cron heartbeat is not recorded meanwhile")
        self.tick_outage = Outage("the cron tick", "retrying every second")

    def tick(self, now: datetime | None = None) -> list[str]:
        """Enqueue what is due up to `now`; returns the job ids this call enqueued. While Redis is unreachable
        the due slots are kept (and folded: a sweep that runs once covers the minutes missed) and enqueued once it
        answers again; the outage is logged when it starts and when it ends, not at every tick."""
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
                self.redis_outage.failed(exc)
                break  # the other entries would fail the same way: try them all again at the next tick
            self.redis_outage.succeeded()
            self.done_until[entry.name] = now
        return enqueued

    def run(self) -> None:
        log.info("cron started: %s (UTC)", ", ".join(f"{e.name} [{e.cron}]" for e in self.schedule))
        while not self.stopping.is_set():
            try:
                self.tick()
            except Exception as exc:  # never let one bad tick end the process; the next tick tries again
                self.tick_outage.failed(exc)
            else:
                self.tick_outage.succeeded()
            if self.beat and time.monotonic() - self._last_beat >= self.beat_every:
                try:
                    self.beat()
                except Exception as exc:  # the database may be unavailable for a while; keep scheduling
                    self.db_outage.failed(exc)
                else:
                    self.db_outage.succeeded()
                    self._last_beat = time.monotonic()
            self.stopping.wait(TICK_SECONDS)
        log.info("cron stopped")

    def stop(self, *_args) -> None:
        self.stopping.set()


def main() -> None:
    """`python -m portal.ops.cron` / `portal cron`: the one process that enqueues periodic jobs. Settings, one
    Redis connection and one database connection (for the heartbeat): no app."""
    settings = load_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    connection = portal_redis.connect(settings)
    engine = sa.create_engine(settings.database_url, **_engine_options(settings.database_url))
    name = process_name("cron")
    details = {"schedule": [e.name for e in SCHEDULE]}

    loop = CronLoop(
        Queue(QUEUE_NAME, connection=connection),
        beat=lambda: record_beat(engine, name, "cron", details),
        beat_every=settings.WORKER_HEARTBEAT_SECONDS,
    )
    signal.signal(signal.SIGTERM, loop.stop)
    signal.signal(signal.SIGINT, loop.stop)
    try:
        loop.run()
    finally:
        portal_redis.release_embedded()
        engine.dispose()


def _engine_options(url: str) -> dict:
    """One connection at most, checked before use (it may have died in a database outage)."""
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}, "poolclass": sa.pool.NullPool}
    return {"pool_pre_ping": True, "pool_size": 1, "max_overflow": 0}


@click.command("cron", help="Run the cron process that enqueues the periodic jobs of portal/schedule.py (run ONE).")
def cron_command() -> None:
    try:
        main()
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from None


if __name__ == "__main__":
    main()
