"""Unique job ids (portal.core.queue.enqueue), against the real test Redis and a real worker: an id deduplicates
while its job waits or runs, and never refuses new work once that job is over (failed, finished, canceled, or
its hash gone), even with two sweeps enqueueing the same id at once."""

from __future__ import annotations

import threading
from datetime import timedelta

from rq import Retry
from rq.job import Job
from rq.registry import FailedJobRegistry

from portal.core import queue as core_queue
from portal.core.queue import enqueue, get_queue, remove_ended_job


# ------------------------------------------------------------------------------------------------ jobs the worker runs
def succeed() -> str:
    return "done"


def fail() -> str:
    raise RuntimeError("the database went away on the first query")


def enqueue_own_id(job_id: str) -> bool:
    """While running (status 'started'), try to enqueue a job with this job's own id: a sweep racing a worker."""
    return enqueue(succeed, job_id=job_id, unique=True)


def _unique(job_id: str, func=succeed, **options) -> bool:
    return enqueue(func, job_id=job_id, unique=True, **options)


def _status(job_id: str) -> str | None:
    job = Job.fetch(job_id, connection=get_queue().connection)
    return job.get_status()


# ------------------------------------------------------------------------------------------------ waiting or running
def test_a_queued_job_refuses_a_second_enqueue_of_its_id(run_jobs, queued_job_ids):
    assert _unique("send-1-0") is True
    assert _unique("send-1-0") is False
    assert queued_job_ids() == ["send-1-0"]
    assert run_jobs().names() == ["succeed"]


def test_a_job_waiting_for_its_retry_refuses_a_second_enqueue_of_its_id(run_jobs, clock, queued_job_ids):
    assert _unique("auto-end-1", fail, retry=Retry(max=1, interval=60)) is True
    run_jobs()
    assert _status("auto-end-1") == "scheduled"
    assert _unique("auto-end-1") is False  # rq's own retry is on its way
    assert queued_job_ids() == []


def test_a_running_job_refuses_an_enqueue_of_its_id(run_jobs, queued_job_ids):
    assert enqueue(enqueue_own_id, "provision-1-0", job_id="provision-1-0", unique=True) is True
    result = run_jobs()
    assert [job.return_value() for job in result.finished] == [False]  # it was 'started' when it tried
    assert queued_job_ids() == []


# ------------------------------------------------------------------------------------------------ over
def test_a_failed_job_does_not_refuse_a_new_enqueue_of_its_id(run_jobs, queued_job_ids, redis_conn):
    assert _unique("send-7-0", fail) is True
    assert run_jobs().names("failed") == ["fail"]
    assert _status("send-7-0") == "failed"

    assert _unique("send-7-0") is True  # the failed job is removed, the new one queued
    assert queued_job_ids() == ["send-7-0"]
    assert "send-7-0" not in FailedJobRegistry(queue=get_queue()).get_job_ids()
    assert run_jobs().names() == ["succeed"]


def test_a_finished_job_does_not_refuse_a_new_enqueue_of_its_id(run_jobs, queued_job_ids):
    assert _unique("send-8-0") is True
    run_jobs()
    assert _status("send-8-0") == "finished"
    assert _unique("send-8-0") is True
    assert run_jobs().names() == ["succeed"]


def test_a_canceled_job_does_not_refuse_a_new_enqueue_of_its_id(run_jobs, queued_job_ids):
    assert _unique("send-9-0") is True
    Job.fetch("send-9-0", connection=get_queue().connection).cancel()
    assert _unique("send-9-0") is True
    assert queued_job_ids() == ["send-9-0"]
    assert run_jobs().names() == ["succeed"]


def test_an_id_whose_job_hash_expired_is_free(run_jobs, queued_job_ids, redis_conn):
    assert _unique("send-10-0", fail) is True
    run_jobs()
    redis_conn.delete(Job.key_for("send-10-0"))  # what its failure_ttl does, days later
    assert _unique("send-10-0") is True
    assert queued_job_ids() == ["send-10-0"]


# ------------------------------------------------------------------------------------------------ two sweeps at once
def test_two_sweeps_taking_back_the_same_failed_id_enqueue_it_once(run_jobs, queued_job_ids, monkeypatch):
    """The other sweep removes the failed job and enqueues its own between our status read and our removal:
    ours must then remove nothing (not the other's fresh job) and enqueue nothing."""
    assert _unique("send-11-0", fail) is True
    run_jobs()
    real_fetch = Job.fetch
    other_sweep: dict[str, bool] = {}

    def fetch_while_the_other_sweep_runs(job_id, *args, **kwargs):
        if "ran" not in other_sweep:
            other_sweep["ran"] = True  # the other sweep's own fetch goes straight through
            other_sweep["enqueued"] = remove_ended_job(get_queue().connection, job_id) and _unique(job_id)
        return real_fetch(job_id, *args, **kwargs)

    monkeypatch.setattr(core_queue.Job, "fetch", fetch_while_the_other_sweep_runs)
    assert _unique("send-11-0") is False  # our transaction saw the job change: it left it alone
    assert other_sweep == {"ran": True, "enqueued": True}
    assert queued_job_ids() == ["send-11-0"]
    assert _status("send-11-0") == "queued"


def test_many_sweeps_at_once_on_a_failed_id_enqueue_it_once(app, run_jobs, queued_job_ids):
    assert _unique("send-12-0", fail) is True
    run_jobs()
    start = threading.Barrier(8)
    outcomes: list[bool] = []

    def sweep() -> None:
        with app.app_context():
            start.wait()
            outcomes.append(_unique("send-12-0"))

    threads = [threading.Thread(target=sweep) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(outcomes) == [False] * 7 + [True]
    assert queued_job_ids() == ["send-12-0"]
    assert run_jobs().names() == ["succeed"]


def test_a_job_whose_retries_are_used_up_does_not_refuse_the_next_enqueue(run_jobs, clock):
    assert _unique("auto-end-2", fail, retry=Retry(max=1, interval=30)) is True
    run_jobs()
    clock.shift(timedelta(seconds=31))
    assert run_jobs().names("failed") == ["fail"]  # retries used up: failed for good
    assert _unique("auto-end-2") is True  # and the next sweep's enqueue is taken
