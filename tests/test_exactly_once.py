"""Exactly once, for real: 2 cron processes and 3 worker processes (the production commands) on the test Redis
and the test database, several sessions with reminders due, extra sweeps racing each other. Each person gets
each due reminder once: one row sent, one email in the SMTP sink."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.core.clock import now_utc
from portal.core.queue import enqueue
from portal.extensions import db
from portal.notifications.jobs import sweep_reminders
from portal.notifications.models import Notification
from portal.seats.models import Seat

pytestmark = pytest.mark.slow
DEADLINE_SECONDS = 45


@pytest.fixture
def processes(base_config, smtp_sink, tmp_path):
    started: list[subprocess.Popen] = []
    env = {
        **os.environ,
        "PORTAL_ENV": "test",
        "PORTAL_SECRET_KEY": base_config["SECRET_KEY"],
        "PORTAL_DATABASE_URL": base_config["DATABASE_URL"],
        "PORTAL_REDIS_URL": base_config["REDIS_URL"],
        "PORTAL_INSTANCE_PATH": str(tmp_path),
        "PORTAL_BASE_URL": "http://portal.test",
        "PORTAL_SMTP_HOST": "127.0.0.1",
        "PORTAL_SMTP_PORT": str(smtp_sink.port),
        "PORTAL_SMTP_TLS": "none",
        "PORTAL_WORKER_HEARTBEAT_SECONDS": "2",
        "PYTHONUNBUFFERED": "1",
    }

    def start(module: str, name: str) -> subprocess.Popen:
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process below
        process = subprocess.Popen([sys.executable, "-m", module], env=env, stdout=log, stderr=subprocess.STDOUT)
        process.log = log
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
    for process in started:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        process.log.close()


def test_each_due_reminder_is_sent_exactly_once_with_two_crons_and_three_workers(
    make_session, make_user, redis_conn, smtp_sink, processes, tmp_path
):
    from portal.core.queue import get_queue
    from tests.plugins.jobs import assert_no_foreign_workers

    assert_no_foreign_workers(get_queue())
    long_ago = now_utc() - timedelta(days=3)  # booked long before: every reminder is owed
    expected = {}
    for starts_in, kind in [
        (timedelta(minutes=5), "10 minutes"),
        (timedelta(minutes=9), "10 minutes"),
        (timedelta(minutes=59), "1 hour"),
        (timedelta(hours=23, minutes=59), "24 hours"),
    ]:
        session = make_session(start_in=starts_in, created_at=long_ago)
        people = [session.instructor]
        for _ in range(5):
            member = make_user("member")
            db.session.add(Seat(session_id=session.id, user_id=member.id, status="confirmed", confirmed_at=long_ago))
            people.append(member)
        session.seats_taken = 5
        db.session.commit()
        for person in people:
            expected[(person.email, f"Reminder: {session.title} starts in {kind}")] = 1

    for i in range(3):
        processes("portal.ops.worker", f"worker-{i}")
    for i in range(2):
        processes("portal.ops.cron", f"cron-{i}")
    for _ in range(6):  # extra sweeps racing the crons' own, spread over the three workers
        enqueue(sweep_reminders)

    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline and len(smtp_sink.messages) < len(expected):
        time.sleep(0.2)
    time.sleep(3)  # let any duplicate that was going to happen, happen
    for _ in range(3):
        enqueue(sweep_reminders)
    time.sleep(2)

    logs = "\n".join(
        line
        for n in ("worker-0", "worker-1", "worker-2", "cron-0", "cron-1")
        for line in (tmp_path / f"{n}.log").read_text(errors="replace").splitlines()
        if "Error" in line or "WARNING" in line or "failed" in line.lower()
    )
    received = Counter((m["To"].addresses[0].addr_spec, m["Subject"]) for m in smtp_sink.messages)
    db.session.expire_all()
    unsent = [
        (r.kind, r.status, r.attempts, r.last_error)
        for r in db.session.scalars(
            select(Notification).where(Notification.status != "sent", Notification.status != "skipped")
        )
    ]
    assert dict(received) == expected, (unsent, logs)
    db.session.expire_all()
    sent = db.session.scalars(select(Notification).where(Notification.status == "sent")).all()
    assert len(sent) == len(expected) and all(row.attempts == 1 for row in sent)
    assert len({m["Message-ID"] for m in smtp_sink.messages}) == len(expected)


def test_a_worker_killed_in_the_middle_of_sending_leaves_the_reminder_sent_once(
    make_session, redis_conn, smtp_sink, mail_app, base_config, tmp_path, run_jobs, time_machine
):
    import signal

    from portal.notifications import operations
    from portal.notifications.sending import enqueue_send

    session = make_session(start_in=timedelta(minutes=50), created_at=now_utc() - timedelta(days=2))
    operations.plan_reminders(session)
    db.session.commit()
    row = db.session.scalars(select(Notification).where(Notification.kind == "reminder_1h")).one()
    smtp_sink.slow_down(30)  # the message is in flight when the worker dies
    enqueue_send(row)
    env = {
        **os.environ,
        "PORTAL_ENV": "test",
        "PORTAL_SECRET_KEY": base_config["SECRET_KEY"],
        "PORTAL_DATABASE_URL": base_config["DATABASE_URL"],
        "PORTAL_REDIS_URL": base_config["REDIS_URL"],
        "PORTAL_INSTANCE_PATH": str(tmp_path),
        "PORTAL_SMTP_HOST": "127.0.0.1",
        "PORTAL_SMTP_PORT": str(smtp_sink.port),
        "PORTAL_SMTP_TLS": "none",
    }
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "portal.ops.worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            db.session.expire_all()
            if db.session.get(Notification, row.id).status == "sending":
                break
            time.sleep(0.1)
        else:
            pytest.fail("the worker never claimed the row:\n" + (tmp_path / "worker.log").read_text())
        time.sleep(0.5)  # in the SMTP exchange now
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its work horse, mid-send
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
    time.sleep(0.5)
    smtp_sink.slow_down(0)
    assert smtp_sink.messages == []  # never accepted
    db.session.expire_all()
    assert db.session.get(Notification, row.id).status == "sending"

    time_machine.move_to(now_utc() + timedelta(minutes=6), tick=False)  # the claim is stale now
    enqueue(sweep_reminders)
    run_jobs()
    enqueue(sweep_reminders)
    result = run_jobs()
    row = db.session.get(Notification, row.id)
    assert len(smtp_sink.messages) == 1, (row.status, row.last_error, result.names(), result.names("failed"))
    assert (row.status, row.attempts) == ("sent", 2)
