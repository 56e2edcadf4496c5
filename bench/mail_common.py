"""Shared by bench/mail_burst.py and bench/reminder_lateness.py: a throw-away portal instance (SQLite file, or
PORTAL_BENCH_DATABASE_URL), its own redis-server on a free port, a threaded SMTP sink that records when each
message arrived, and real worker processes (`python -m portal.ops.worker`, the production command)."""

from __future__ import annotations

import os
import pickle
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from portal.core.redis import server_binary

ROOT = Path(__file__).resolve().parent.parent
MESSAGE_ID = re.compile(rb"^Message-ID: *(<[^>]*>)", re.MULTILINE | re.IGNORECASE)
SECRET = "b" * 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    def __init__(self, folder: Path):
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        options = ("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", "")
        self.process = subprocess.Popen(
            [server_binary(), *options, "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        conn = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                conn.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


class Sink:
    """aiosmtpd in a thread; `.arrivals` are (time.time(), To, Subject) of each accepted message."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrivals: list[tuple[float, str, str]] = []
        self.refusing_until = 0.0
        self._lock = threading.Lock()
        self.controller = None

    async def handle_DATA(self, server, session, envelope):
        if time.time() < self.refusing_until:
            return "451 Try again later"
        found = MESSAGE_ID.search(envelope.content)  # not parsed: the sink must cost as little as it can
        with self._lock:
            self.arrivals.append((time.time(), envelope.rcpt_tos[0], found.group(1).decode() if found else ""))
        return "250 OK: queued"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller:
            self.controller.stop()

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.arrivals) >= count:
                return True
            time.sleep(0.05)
        return False


class Instance:
    """A migrated throw-away instance with its app, Redis and sink; `start_workers(n)` runs real workers."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="bench-mail-"))
        self.database_url = os.environ.get("PORTAL_BENCH_DATABASE_URL") or f"sqlite:///{self.folder / 'portal.db'}"
        self.redis = RedisServer(self.folder)
        self.sink = Sink()
        self.workers: list[subprocess.Popen] = []
        self.app = None

    def __enter__(self) -> Instance:
        from portal import create_app
        from portal.core import migrate

        self.redis.start()
        self.sink.start()
        self.app = create_app(
            {
                "ENV": "test",
                "SECRET_KEY": SECRET,
                "INSTANCE_PATH": str(self.folder),
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis.url,
                "BASE_URL": "http://portal.bench",
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": self.sink.port,
                "SMTP_TLS": "none",
            }
        )
        self.context = self.app.app_context()
        self.context.push()
        if self.database_url.startswith("postgresql"):
            from portal.extensions import db

            db.drop_all()
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        migrate.upgrade()
        return self

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PORTAL_ENV": "test",
            "PORTAL_SECRET_KEY": SECRET,
            "PORTAL_DATABASE_URL": self.database_url,
            "PORTAL_REDIS_URL": self.redis.url,
            "PORTAL_INSTANCE_PATH": str(self.folder),
            "PORTAL_BASE_URL": "http://portal.bench",
            "PORTAL_SMTP_HOST": "127.0.0.1",
            "PORTAL_SMTP_PORT": str(self.sink.port),
            "PORTAL_SMTP_TLS": "none",
            "PYTHONUNBUFFERED": "1",
        }

    def start_workers(self, count: int) -> None:
        import redis
        from rq import Worker

        for i in range(count):
            log = open(self.folder / f"worker-{i}.log", "wb")  # noqa: SIM115 - lives as long as the worker
            self.workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "portal.ops.worker"],
                    env=self.env(),
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        conn = redis.Redis.from_url(self.redis.url)
        deadline = time.monotonic() + 60
        while len(Worker.all(connection=conn)) < count:
            if time.monotonic() > deadline:
                sys.exit("workers did not start: see " + str(self.folder))
            time.sleep(0.1)

    def __exit__(self, *_exc) -> None:
        for worker in self.workers:
            worker.terminate()
        for worker in self.workers:
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
        self.context.pop()
        self.sink.stop()
        self.redis.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def make_people(count: int, prefix: str = "m"):
    """`count` verified members (and nothing else), in one flush."""
    from portal.accounts.models import User
    from portal.extensions import db

    people = [
        User(email=f"{prefix}{i}@example.org", name=f"Member {i}", password_hash="", role="member")
        for i in range(count)
    ]
    db.session.add_all(people)
    db.session.flush()
    return people


def make_seated_session(instructor, members, start_time, title: str):
    """A scheduled session booked long ago by `members` (every reminder owed), its reminders planned (which
    schedules their moments), committed."""
    from portal.core.clock import now_utc
    from portal.extensions import db
    from portal.notifications import operations
    from portal.seats.models import Seat
    from portal.training.models import TrainingSession

    long_ago = now_utc() - timedelta(days=3)
    session = TrainingSession(title=title, instructor_id=instructor.id, created_at=long_ago, capacity=len(members))
    session.set_schedule(start_time, 60)
    db.session.add(session)
    db.session.flush()
    db.session.add_all(
        Seat(session_id=session.id, user_id=m.id, status="confirmed", confirmed_at=long_ago, created_at=long_ago)
        for m in members
    )
    session.seats_taken = len(members)
    db.session.flush()
    operations.plan_reminders(session)
    db.session.commit()
    return session


RAW_SENDER = """
import pickle, smtplib, sys, time
port, messages = pickle.load(open(sys.argv[1], "rb"))
started = time.perf_counter()
with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
    for i, message in enumerate(messages):
        smtp.sendmail("portal@localhost", [f"raw{i}@example.org"], message)
print(len(messages) / (time.perf_counter() - started))
"""


def raw_smtplib_rate(port: int, messages: list[bytes]) -> float:
    """Messages per second of plain smtplib sending prebuilt messages over one connection, from a process of its
    own (as the worker is: the sink's thread does not share its interpreter lock)."""
    with tempfile.NamedTemporaryFile(suffix=".pickle") as data:
        pickle.dump((port, messages), data)
        data.flush()
        out = subprocess.run(
            [sys.executable, "-c", RAW_SENDER, data.name], capture_output=True, text=True, check=True, timeout=600
        )
    return float(out.stdout.strip())


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]
