"""The worker process: an RQ worker (with the scheduler, for enqueue_at and Retry intervals) whose every job
runs inside an app context, with the database session removed after it. `worker.py` and `portal worker` run it.
"""

from __future__ import annotations

import logging
import time

from flask import Flask
from rq import SimpleWorker, Worker

from portal.app import create_app
from portal.core.queue import worker_queues
from portal.core.redis import release_embedded
from portal.extensions import db
from portal.notifications.channels import announce_transport
from portal.ops.heartbeat import beat, process_name

log = logging.getLogger("portal.worker")


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
                db.session.remove()


class AppWorker(AppJobs, Worker):
    """Forks a work horse per job (a job that hangs or crashes cannot take the worker down).

    Its heartbeat goes to the database too (for the health page), from rq's own heartbeat calls in the main
    thread: no extra thread, because forking while another thread holds a lock (the pool's, logging's) can
    leave the work horse waiting on that lock forever."""

    portal_name: str = "worker"
    heartbeat_every: float = 30.0
    _last_beat: float = 0.0

    def main_work_horse(self, job, queue):
        with self.app.app_context():
            db.engine.dispose(close=False)  # the parent's pooled connections are not ours to use
        return super().main_work_horse(job, queue)

    def heartbeat(self, timeout=None, pipeline=None):
        super().heartbeat(timeout, pipeline)
        if time.monotonic() - self._last_beat >= self.heartbeat_every:
            self.record_alive()

    def record_alive(self) -> None:
        with self.app.app_context():
            try:
                beat(self.portal_name, "worker", {"rq_name": self.name})
                self._last_beat = time.monotonic()
            except Exception as exc:  # database briefly unavailable: the next heartbeat tries again
                log.warning("worker heartbeat not recorded: %s", exc)
            finally:
                db.session.remove()


class AppSimpleWorker(AppJobs, SimpleWorker):
    """Runs jobs in its own process (tests, and platforms without fork)."""


def run_worker(*, burst: bool = False, name: str | None = None) -> None:

    app = create_app()
    settings = app.extensions["portal.settings"]
    announce_transport(settings)
    with app.app_context():
        queues = worker_queues()
    every = settings.WORKER_HEARTBEAT_SECONDS
    worker = AppWorker(queues, connection=queues[0].connection, app=app, worker_ttl=every + 15)
    worker.portal_name = name or process_name("worker")
    worker.heartbeat_every = every
    worker.record_alive()
    try:
        worker.work(with_scheduler=True, burst=burst, logging_level="INFO")
    finally:
        release_embedded()


def main() -> None:
    run_worker()


if __name__ == "__main__":
    main()
