"""The cron table and the cron loop: UTC slots, one enqueue per slot whatever the number of cron processes,
and a slot missed while Redis was down is enqueued when it is back."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from rq import Queue

from portal.core.queue import QUEUE_NAME
from portal.ops.cron import CronLoop, latest_slot
from portal.schedule import SCHEDULE


def _entry(name):
    return next(e for e in SCHEDULE if e.name == name)


def test_table_has_the_minute_sweeps_and_the_daily_cleanup_at_two_utc():
    crons = {e.name: (e.func, e.cron) for e in SCHEDULE}
    assert crons["rooms"] == ("portal.training.rooms.sweep_rooms", "* * * * *")
    assert crons["reminders"] == ("portal.notifications.jobs.sweep_reminders", "* * * * *")
    assert crons["auto-end"] == ("portal.training.jobs.sweep_auto_end", "* * * * *")
    assert crons["cleanup"] == ("portal.training.jobs.cleanup", "0 2 * * *")
    assert all(e.timeout > 0 for e in SCHEDULE)


@pytest.fixture
def new_york_tz():
    old = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_cleanup_slot_is_two_o_clock_utc_whatever_the_machine_zone(new_york_tz):
    slot = latest_slot(
        _entry("cleanup"), datetime(2026, 12, 1, 1, 59, tzinfo=UTC), datetime(2026, 12, 1, 2, 0, 30, tzinfo=UTC)
    )
    assert slot == datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    assert (
        latest_slot(_entry("cleanup"), datetime(2026, 12, 1, 2, 1, tzinfo=UTC), datetime(2026, 12, 1, 7, 0, tzinfo=UTC))
        is None
    )


def test_two_cron_processes_enqueue_each_slot_once(redis_conn, clock):
    queue = Queue(QUEUE_NAME, connection=redis_conn)
    first, second = CronLoop(queue), CronLoop(queue)
    clock.at(datetime(2026, 12, 1, 9, 0, 5, tzinfo=UTC))
    ids = first.tick() + second.tick()
    assert sorted(ids) == sorted(f"cron-{e.name}-20261201T0900" for e in SCHEDULE if e.cron == "* * * * *")
    assert first.tick() == [] and second.tick() == []  # same minute: nothing new
    clock.at(datetime(2026, 12, 1, 9, 1, 1, tzinfo=UTC))
    assert len(second.tick()) == 4 and first.tick() == []
    assert queue.count == 8


def test_daily_cleanup_is_enqueued_at_two_utc(redis_conn, clock):
    queue = Queue(QUEUE_NAME, connection=redis_conn)
    clock.at(datetime(2026, 12, 2, 1, 59, 30, tzinfo=UTC))
    loop = CronLoop(queue)
    assert not any("cleanup" in i for i in loop.tick())
    clock.at(datetime(2026, 12, 2, 2, 0, 1, tzinfo=UTC))
    assert "cron-cleanup-20261202T0200" in loop.tick()


def test_a_slot_missed_while_redis_was_down_is_enqueued_when_it_is_back(redis_conn, clock):
    import redis

    down = Queue(QUEUE_NAME, connection=redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2))
    clock.at(datetime(2026, 12, 1, 9, 0, 5, tzinfo=UTC))
    loop = CronLoop(down)
    assert loop.tick() == []  # logged, kept
    loop.queue = Queue(QUEUE_NAME, connection=redis_conn)
    clock.shift(timedelta(minutes=3))
    assert sorted(loop.tick()) == sorted(f"cron-{e.name}-20261201T0903" for e in SCHEDULE if e.cron == "* * * * *")


def test_daily_cleanup_is_retried_when_it_fails_and_minute_sweeps_are_not(redis_conn, clock):
    from rq.job import Job

    queue = Queue(QUEUE_NAME, connection=redis_conn)
    clock.at(datetime(2026, 12, 2, 2, 0, 1, tzinfo=UTC))
    loop = CronLoop(queue)
    loop.done_until = {name: datetime(2026, 12, 2, 1, 59, 59, tzinfo=UTC) for name in loop.done_until}
    loop.tick()
    cleanup = Job.fetch("cron-cleanup-20261202T0200", connection=redis_conn)
    sweep = Job.fetch("cron-reminders-20261202T0200", connection=redis_conn)
    assert (cleanup.retries_left, cleanup.retry_intervals) == (3, [60, 300, 900])
    assert sweep.retries_left is None
