"""`portal run` on a fresh machine: embedded Redis, migrations, web server, worker and cron all start from one
command, say where they are, and all stop on Ctrl-C (SIGINT to the terminal's process group) or SIGTERM,
leaving no process behind (checked by pid). Killed children and SIGKILL of the launcher: tests/test_faults.py."""

from __future__ import annotations

import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.faults_harness import PortalRun, portal_env, wait_gone

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds processes in /proc"),
]


def _heartbeat_kinds(db_file: Path) -> set[str]:
    if not db_file.exists():
        return set()
    try:
        with sqlite3.connect(db_file, timeout=5) as conn:
            return {row[0] for row in conn.execute("SELECT kind FROM heartbeats")}
    except sqlite3.Error:
        return set()


@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm"])
def test_portal_run_starts_everything_and_stops_everything(tmp_path, stop):
    instance = tmp_path / "instance"
    run = PortalRun(tmp_path, portal_env(instance, WORKER_HEARTBEAT_SECONDS="1"))  # else a fresh machine's defaults
    family: set[int] = set()
    try:
        pids = run.wait_started()
        assert run.healthz() == {"database": "ok", "redis": "ok"}
        run.wait_for(
            lambda: {"worker", "cron", "pipeline"} <= _heartbeat_kinds(instance / "portal.db"),
            30,
            "worker, cron and a periodic job to report",
        )
        text = run.text()
        assert f"http://127.0.0.1:{run.port}/" in text
        socket_line = next(line for line in text.splitlines() if line.strip().startswith("redis"))
        assert "unix://" in socket_line and "(embedded" in socket_line
        assert f"{instance}/outbox" in text
        assert redis.Redis.from_url(socket_line.split()[1]).info()["process_id"] == pids["redis"]
        family = run.family()  # worker, cron, Redis, and whatever they started
        assert set(pids.values()) <= family

        if stop == "ctrl-c":
            run.ctrl_c()
        else:
            run.signal(signal.SIGTERM)
        stopping = time.monotonic()
        assert run.process.wait(timeout=30) == 0, run.tail()
        print(f"stopped in {time.monotonic() - stopping:.1f} s")
        assert wait_gone(family, 10) == [], run.tail()
        assert "Training Portal stopped." in run.text()
    finally:
        run.cleanup(family)
