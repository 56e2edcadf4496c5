"""The worker process: runs the jobs of the portal's queues (core.queue.WORKER_QUEUES, most urgent first) inside an
app context, one after another in its own process, and moves scheduled jobs (enqueue_at, Retry intervals) to their
queues on time. `worker.py` and `portal worker` run it.

No fork per job (rq's SimpleWorker): a forked work horse with fresh database, Redis and SMTP connections cost
~100 ms per job; here connections are pooled across jobs, and a job that sends a batch of emails keeps one SMTP
connection. Job timeouts still hold (rq's SIGALRM death penalty, in this main thread). A job that crashes the
interpreter takes the process down: `portal run` restarts it, and its claims are recovered by the sweep.

Outages: a Redis restart or a database outage never stops the worker. rq's own loop retries a lost connection
while it waits for jobs (capped here at MAX_CONNECTION_WAIT s); a Redis error anywhere else (recording a job's
outcome, a heartbeat, maintenance) is logged and the loop goes on; should rq's loop still end, it is started again
after a backoff, once Redis answers. A job that fails on the database is a failed job; the sweeps do its work
again.

Scheduled jobs are moved by a thread of the worker (`ScheduledJobs`, every SCHEDULER_INTERVAL s) rather than by
rq's scheduler process, which is forked once and dies at the first Redis error. One worker at a time moves them
(a lock in Redis, renewed each pass; another worker takes over within LOCK_TTL s of its holder's death).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time

import redis
from flask import Flask
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested
from rq.job import Job
from rq.registry import ScheduledJobRegistry

from portal.app import create_app
from portal.core.queue import worker_queues
from portal.core.redis import release_embedded
from portal.extensions import db
from portal.notifications.channels import announce_transport
from portal.ops.heartbeat import beat, process_name

log = logging.getLogger("portal.worker")
REDIS_ERRORS = (redis.RedisError, OSError)
MAX_CONNECTION_WAIT = 5.0  # seconds between tries to reach Redis again (rq's default grows to 60)
SCHEDULER_INTERVAL = 0.25  # seconds between passes moving due scheduled jobs
LOCK_TTL = 10  # seconds: the scheduler lock of a worker that died passes on after this
SCHEDULER_LOCK = "portal.scheduler.lock"
SWITCH_INTERVAL = 0.0005  # seconds a thread runs before another may take the interpreter (see run_worker)
# Take the lock, or renew it when we hold it: one round trip, atomic.
_LOCK_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('expire', KEYS[1], ARGV[2])
end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
    return 1
end
return 0
"""


class AppJobs:
    """Mixin: run each job inside `app.app_context()`; remove the database session afterwards."""

    app: Flask

    def __init__(self, *args, app: Flask, **kwargs):
        super().__init__(*args, **kwargs)
        self.app = app

    def perform_job(self, job, queue, execution):
        with self.app.app_context():
            try:
                return super().perform_job(job, queue, execution)
            finally:
                with contextlib.suppress(Exception):  # a connection that died with the database: dropped anyway
                    db.session.remove()


class AppSimpleWorker(AppJobs, SimpleWorker):
    """Runs jobs in its own process (tests: a burst worker inside the test process)."""


class AppWorker(AppSimpleWorker):
    """The production worker: AppSimpleWorker that rides out outages and records its heartbeat in the database
    (for the health page), from rq's own heartbeat calls."""

    portal_name: str = "worker"
    heartbeat_every: float = 30.0
    max_connection_wait_time = MAX_CONNECTION_WAIT
    _last_beat: float = 0.0

    def heartbeat(self, timeout=None, pipeline=None):
        try:
            super().heartbeat(timeout, pipeline)
        except REDIS_ERRORS as exc:
            log.warning("worker heartbeat not written to Redis: %s", exc)
        if time.monotonic() - self._last_beat >= self.heartbeat_every:
            self.record_alive()

    def execute_job(self, job, queue):
        try:
            return super().execute_job(job, queue)
        except REDIS_ERRORS as exc:  # the job ran; only its outcome could not be written
            log.warning("job %s: its outcome was not recorded in Redis: %s", job.id, exc)
            return None

    def run_maintenance_tasks(self):
        try:
            super().run_maintenance_tasks()
        except REDIS_ERRORS as exc:
            log.warning("worker maintenance skipped: %s", exc)

    def check_for_suspension(self, burst: bool) -> None:
        try:
            super().check_for_suspension(burst)
        except REDIS_ERRORS as exc:
            log.warning("could not check for suspension: %s", exc)

    def record_alive(self) -> None:
        with self.app.app_context():
            try:
                beat(self.portal_name, "worker", {"rq_name": self.name})
                self._last_beat = time.monotonic()
            except Exception as exc:  # database briefly unavailable: the next heartbeat tries again
                log.warning("worker heartbeat not recorded: %s", exc)
            finally:
                with contextlib.suppress(Exception):
                    db.session.remove()


class ScheduledJobs(threading.Thread):
    """Moves due scheduled jobs to their queues, every SCHEDULER_INTERVAL s, in the worker that holds the lock."""

    def __init__(self, queues: list[Queue], owner: str, *, interval: float = SCHEDULER_INTERVAL):
        super().__init__(name="scheduled-jobs", daemon=True)
        self.queues = queues
        self.connection = queues[0].connection
        self.owner = owner
        self.interval = interval
        self.stopping = threading.Event()
        self._lock = self.connection.register_script(_LOCK_SCRIPT)

    def run(self) -> None:
        delay = 1.0
        while not self.stopping.wait(self.interval):
            try:
                if self._lock(keys=[SCHEDULER_LOCK], args=[self.owner, LOCK_TTL]):
                    self.move_due()
                delay = 1.0
            except REDIS_ERRORS as exc:
                log.warning("scheduled jobs not moved (Redis: %s); trying again in %.0f s", exc, delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, MAX_CONNECTION_WAIT)
        with contextlib.suppress(*REDIS_ERRORS):  # let another worker take over at once
            if self.connection.get(SCHEDULER_LOCK) == self.owner.encode():
                self.connection.delete(SCHEDULER_LOCK)

    def move_due(self) -> int:
        moved = 0
        for queue in self.queues:
            registry = ScheduledJobRegistry(queue=queue)
            job_ids = registry.get_jobs_to_schedule(int(time.time()))
            if not job_ids:
                continue
            jobs = Job.fetch_many(job_ids, connection=self.connection)
            with self.connection.pipeline() as pipe:
                for job_id, job in zip(job_ids, jobs, strict=True):
                    if job is not None:
                        queue._enqueue_job(job, pipeline=pipe, at_front=job.should_enqueue_at_front())
                    registry.remove(job_id, pipeline=pipe)
                pipe.execute()
            moved += len(job_ids)
        return moved

    def stop(self) -> None:
        self.stopping.set()


def _wait_for_redis(connection: redis.Redis, delay: float) -> None:
    """Sleep with backoff until Redis answers (SIGTERM / Ctrl-C meanwhile raise StopRequested)."""
    while True:
        time.sleep(delay)
        try:
            connection.ping()
            return
        except REDIS_ERRORS as exc:
            delay = min(delay * 2, MAX_CONNECTION_WAIT)
            log.warning("Redis unavailable (%s); trying again in %.0f s", exc, delay)


def _asked_to_stop(worker: AppWorker) -> bool:
    """SIGTERM / Ctrl-C reached rq's loop (while busy it sets _stop_requested; while idle only the date)."""
    return worker._stop_requested or getattr(worker, "_shutdown_requested_date", None) is not None


def _stop_requested(*_args) -> None:
    raise StopRequested


def _work_until_stopped(app: Flask, queues: list[Queue], portal_name: str, every: int, *, burst: bool) -> None:
    connection = queues[0].connection
    delay = 1.0
    while True:
        worker = None
        started = time.monotonic()
        try:
            worker = AppWorker(queues, connection=connection, app=app, worker_ttl=every + 15)
            worker.portal_name = portal_name
            worker.heartbeat_every = every
            worker.record_alive()
            worker.work(burst=burst, logging_level="INFO")
        except REDIS_ERRORS as exc:  # e.g. registering at start while Redis is away
            log.warning("worker: Redis unavailable: %s", exc)
        if burst or (worker is not None and _asked_to_stop(worker)):
            return
        delay = 1.0 if time.monotonic() - started > 60 else min(delay * 2, MAX_CONNECTION_WAIT)
        log.warning("worker loop ended (Redis or database unavailable?); starting again in %.0f s", delay)
        _wait_for_redis(connection, delay)


def run_worker(*, burst: bool = False, name: str | None = None) -> None:
    # The send job's SMTP thread waits for a reply while the main thread composes the next email: with Python's
    # default 5 ms switch interval, each of an exchange's 4 replies could wait that long for the interpreter
    # (bench/mail_burst.py: 1,000 reminders' last one 4.5-6.2 s after due with 5 ms, 3.6-4.2 s with 0.5 ms)
    sys.setswitchinterval(SWITCH_INTERVAL)
    app = create_app()
    settings = app.extensions["portal.settings"]
    announce_transport(settings)
    with app.app_context():
        queues = worker_queues()
    every = settings.WORKER_HEARTBEAT_SECONDS
    portal_name = name or process_name("worker")
    scheduler = None if burst else ScheduledJobs(queues, portal_name)
    if scheduler is not None:
        scheduler.start()
    signal.signal(signal.SIGTERM, _stop_requested)  # until rq's loop installs its own (and between its runs)
    signal.signal(signal.SIGINT, _stop_requested)
    try:
        _work_until_stopped(app, queues, portal_name, every, burst=burst)
    except StopRequested:  # SIGTERM / Ctrl-C while between two runs of rq's loop
        log.info("worker stopped")
    finally:
        if scheduler is not None:
            scheduler.stop()
            scheduler.join(timeout=5)
        release_embedded()


def main() -> None:
    run_worker()


if __name__ == "__main__":
    main()
