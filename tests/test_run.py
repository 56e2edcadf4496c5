"""`portal run` on a fresh machine: embedded Redis, migrations, web server, worker and cron all start from one
command, say where they are, and all stop on Ctrl-C (SIGINT) or SIGTERM, leaving no process behind."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import requests

from tests.plugins.browser import free_port

pytestmark = pytest.mark.slow


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(predicate, timeout: float, what: str, process, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"portal run exited ({process.returncode}) while waiting for {what}:\n{log.read_text()}")
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}:\n{log.read_text()[-4000:]}")


def _heartbeat_kinds(db_file: Path) -> set[str]:
    if not db_file.exists():
        return set()
    try:
        with sqlite3.connect(db_file, timeout=5) as conn:
            return {row[0] for row in conn.execute("SELECT kind FROM heartbeats")}
    except sqlite3.Error:
        return set()


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_portal_run_starts_everything_and_stops_everything(tmp_path, stop_signal):
    instance = tmp_path / "instance"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(
        {"PORTAL_INSTANCE_PATH": str(instance), "PORTAL_WORKER_HEARTBEAT_SECONDS": "1", "PYTHONUNBUFFERED": "1"}
    )  # nothing else: a fresh machine's defaults
    log = tmp_path / "portal.log"
    command = [str(Path(sys.executable).parent / "portal"), "run", "--port", str(port)]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: _get(f"http://127.0.0.1:{port}/healthz"), 60, "/healthz", process, log)
        assert _get(f"http://127.0.0.1:{port}/healthz").json() == {"database": "ok", "redis": "ok"}
        _wait_for(
            lambda: {"worker", "cron", "pipeline"} <= _heartbeat_kinds(instance / "portal.db"),
            30,
            "worker, cron and a periodic job to report",
            process,
            log,
        )
        text = log.read_text()
        assert f"http://127.0.0.1:{port}/" in text
        socket_line = next(line for line in text.splitlines() if line.strip().startswith("redis"))
        assert "unix://" in socket_line and "(embedded)" in socket_line
        assert f"{instance}/outbox" in text
        redis_pid = redis.Redis.from_url(socket_line.split()[1]).info()["process_id"]
        family = _descendants(process.pid) | {redis_pid}
        assert len(family) >= 3  # worker, cron (and the worker's scheduler), plus Redis

        process.send_signal(stop_signal)
        assert process.wait(timeout=30) == 0, log.read_text()[-3000:]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(pid) for pid in family):
            time.sleep(0.2)
        assert [pid for pid in family if _alive(pid)] == [], log.read_text()[-3000:]
        assert "Training Portal stopped." in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def _get(url: str):
    try:
        response = requests.get(url, timeout=2)
    except requests.ConnectionError:
        return None
    return response if response.status_code == 200 else None
