"""Issue 16 item 4, the worker's side, with real processes: the production worker (`python -m portal.ops.worker`)
rides out a restart of the redis-server it uses (its own one here, on a free port): it logs, waits with backoff,
reconnects and carries on. A job enqueued after the restart runs, and so does one scheduled after it (the
worker's scheduler came back too). No "unhandled exception, quitting"."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from rq import Queue, Worker

from portal.core.queue import MAIL_QUEUE, QUEUE_NAME
from portal.core.redis import server_binary

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 30.0


def touch(path: str) -> str:
    """The job: leaves a file behind (the test reads it from outside the worker)."""
    Path(path).write_text("ran")
    return path


class OwnRedis:
    def __init__(self, folder: Path):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.folder = folder
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        options = ("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", "")
        self.process = subprocess.Popen(
            [server_binary(), *options, "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _until(lambda: self.client().ping(), "redis-server answers")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=2)


def _until(check, what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.1)


@pytest.fixture
def own_redis(tmp_path):
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def worker(own_redis, base_config, tmp_path):
    env = {
        **os.environ,
        "PORTAL_ENV": "test",
        "PORTAL_SECRET_KEY": base_config["SECRET_KEY"],
        "PORTAL_DATABASE_URL": base_config["DATABASE_URL"],
        "PORTAL_REDIS_URL": f"redis://127.0.0.1:{own_redis.port}/0",
        "PORTAL_INSTANCE_PATH": str(tmp_path),
        "PORTAL_WORKER_HEARTBEAT_SECONDS": "2",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "portal.ops.worker"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    process.log_path = log_path
    try:
        _until(lambda: Worker.all(connection=own_redis.client()), "the worker registered")
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def test_a_worker_rides_out_a_redis_restart_and_runs_jobs_enqueued_after_it(own_redis, worker, tmp_path):
    before = tmp_path / "before"
    Queue(MAIL_QUEUE, connection=own_redis.client()).enqueue(f"{__name__}.touch", str(before))
    _until(before.exists, "a job ran before the restart")

    own_redis.stop()  # a Redis restart: the worker is idle, waiting for jobs on it
    time.sleep(3)
    assert worker.poll() is None
    own_redis.start()

    after, scheduled = tmp_path / "after", tmp_path / "scheduled"
    conn = own_redis.client()
    Queue(QUEUE_NAME, connection=conn).enqueue(f"{__name__}.touch", str(after))
    Queue(QUEUE_NAME, connection=conn).enqueue_in(timedelta(seconds=1), f"{__name__}.touch", str(scheduled))
    _until(lambda: after.exists() and scheduled.exists(), "the jobs enqueued after the restart ran")
    assert worker.poll() is None
    log = worker.log_path.read_text(errors="replace")
    assert "unhandled exception" not in log and "quitting" not in log, log
    assert "Redis" in log  # it said what happened


def test_a_worker_started_while_redis_is_down_waits_for_it(own_redis, base_config, tmp_path):
    own_redis.stop()
    env = {
        **os.environ,
        "PORTAL_ENV": "test",
        "PORTAL_SECRET_KEY": base_config["SECRET_KEY"],
        "PORTAL_DATABASE_URL": base_config["DATABASE_URL"],
        "PORTAL_REDIS_URL": f"redis://127.0.0.1:{own_redis.port}/0",
        "PORTAL_INSTANCE_PATH": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
    }
    with open(tmp_path / "late.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "portal.ops.worker"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        time.sleep(4)
        assert process.poll() is None, (tmp_path / "late.log").read_text()
        own_redis.start()
        done = tmp_path / "done"
        Queue(QUEUE_NAME, connection=own_redis.client()).enqueue(f"{__name__}.touch", str(done))
        _until(done.exists, "the job ran once Redis was up")
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert process.returncode == 0, (tmp_path / "late.log").read_text()
