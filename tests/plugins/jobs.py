"""Fixtures for jobs tests (see tests/conftest.py for the shared toolkit).

- `run_jobs()`: a REAL rq worker (SimpleWorker, burst, like production's) on every worker queue (portal, then mail)
  against the REAL test Redis, every job inside the app context like production workers. First it moves
  scheduled jobs that are due at the (possibly moved) clock into their queue (enqueue_at, Retry intervals), then
  works until the queues are empty; repeats while jobs enqueue more jobs. Returns a JobRun with the finished and
  failed jobs of this call.
- `queued_job_ids()`: ids waiting in the worker's queues, most urgent queue first (what an operation or a sweep
  enqueued). Scheduled jobs (a reminder's moment) are not in a queue until due.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from rq.job import Job
from rq.registry import FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry

from portal.core.clock import now_utc


@dataclass
class JobRun:
    finished: list[Job] = field(default_factory=list)
    failed: list[Job] = field(default_factory=list)

    def names(self, which: str = "finished") -> list[str]:
        return [job.func_name.rsplit(".", 1)[-1] for job in getattr(self, which)]


def move_due_scheduled(queue) -> int:
    """What the worker's scheduler does once a second, at the current (test) clock."""
    registry = ScheduledJobRegistry(queue=queue)
    job_ids = registry.get_jobs_to_schedule(int(now_utc().timestamp()))
    jobs = Job.fetch_many(job_ids, connection=queue.connection)
    with queue.connection.pipeline() as pipe:
        for job_id, job in zip(job_ids, jobs, strict=True):
            if job is not None:
                queue._enqueue_job(job, pipeline=pipe)
            registry.remove(job_id, pipeline=pipe)
        pipe.execute()
    return len(job_ids)


def assert_no_foreign_workers(queue) -> None:
    """Another worker on the test Redis (e.g. a `portal run` left running against it) would take jobs meant for
    this test and run them with its own settings: say so plainly instead of failing obscurely. An idle rq
    worker waits in a blocking pop; nothing of this test process ever does."""
    blocked = queue.connection.info("clients").get("blocked_clients", 0)
    if blocked:
        pytest.fail(
            f"{blocked} worker(s) outside this test are waiting on the test Redis and would take its jobs. "
            "A live portal (tests/plugins/browser.py) must use its own Redis and stop after its module."
        )


@pytest.fixture
def run_jobs(app, redis_conn):
    from portal.core.queue import get_queue, worker_queues
    from portal.extensions import db
    from portal.ops.worker import AppSimpleWorker

    assert_no_foreign_workers(get_queue())  # before the test enqueues anything a foreign worker could take

    def run(max_rounds: int = 10) -> JobRun:
        from flask import current_app

        bound = current_app._get_current_object()  # the test's app (e.g. cloudflare_app), else the session app
        queues = worker_queues()  # most urgent first, as the production worker takes them
        connection = queues[0].connection
        finished = [FinishedJobRegistry(queue=q) for q in queues]
        failed = [FailedJobRegistry(queue=q) for q in queues]
        seen_ok = {i for r in finished for i in r.get_job_ids()}
        seen_failed = {i for r in failed for i in r.get_job_ids()}
        for _ in range(max_rounds):
            for queue in queues:
                move_due_scheduled(queue)
            if not any(q.count for q in queues):
                break
            AppSimpleWorker(queues, connection=connection, app=bound).work(burst=True, with_scheduler=False)
        db.session.expire_all()  # the jobs wrote through their own sessions
        new_ok = [i for r in finished for i in r.get_job_ids() if i not in seen_ok]
        new_failed = [i for r in failed for i in r.get_job_ids() if i not in seen_failed]
        return JobRun(
            [j for j in Job.fetch_many(new_ok, connection=connection) if j],
            [j for j in Job.fetch_many(new_failed, connection=connection) if j],
        )

    return run


@pytest.fixture
def queued_job_ids(app, redis_conn):
    from portal.core.queue import worker_queues

    def ids() -> list[str]:
        return [job_id for queue in worker_queues() for job_id in queue.get_job_ids()]

    return ids
