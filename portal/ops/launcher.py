"""`portal run`: the whole portal in one command, for a laptop or a small server.

Order: settings -> the instance lock (one `portal run` per instance folder) -> Redis (an embedded redis-server
child unless PORTAL_REDIS_URL; an orphan server of an earlier run is stopped first, never reused) ->
migrations -> worker and cron subprocesses (`python -m portal.ops.worker`, `python -m portal.ops.cron`, same
environment plus the Redis URL) -> the web server (waitress) in this process.

What it guarantees:
- Every child (worker, cron, redis-server) dies with the launcher however the launcher dies, SIGKILL included:
  each child runs under portal.ops.lifeline (Linux PR_SET_PDEATHSIG, plus a pipe it watches everywhere), leads
  its own process group, and is killed with that group if it has not stopped within a grace period.
- A child that exits while the launcher runs (Redis included) is logged and restarted, after 1, 2, 4 ... 30 s
  (the delay starts again at 1 s once a child has run for a minute).
- Ctrl-C, SIGTERM or SIGHUP stop the web server, then the children (SIGTERM, then SIGKILL of the child's
  process group after STOP_GRACE_SECONDS), then Redis (saving its data).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from waitress import create_server

from portal.app import create_app
from portal.config import ConfigError, load_settings
from portal.core import migrate
from portal.core.redis import EmbeddedServer
from portal.notifications.channels import describe_transport

log = logging.getLogger("portal.run")
CHILDREN = {"worker": "portal.ops.worker", "cron": "portal.ops.cron"}
STOP_GRACE_SECONDS = 8
BACKOFF_SECONDS = (1, 2, 4, 8, 16, 30)
STABLE_AFTER_SECONDS = 60  # a child that ran this long starts its backoff again from the first step
WATCH_EVERY_SECONDS = 0.2


def _interrupt(*_args) -> None:
    raise KeyboardInterrupt


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0  # exits in a row, each soon after its start
    restart_at: float | None = None

    def delay(self) -> float:
        return BACKOFF_SECONDS[min(self.failures, len(BACKOFF_SECONDS)) - 1]


class Launcher:
    def __init__(self, *, host: str, port: int, threads: int = 8):
        self.host, self.port, self.threads = host, port, threads
        self.settings = load_settings()
        self.children: dict[str, Child] = {}
        self.stopping = threading.Event()
        self.finished = threading.Event()  # set once everything is stopped: the supervisor thread may end
        self.ready = threading.Event()  # the supervisor has started what it was asked to
        self.start_children = threading.Event()  # migrations are done: start worker and cron
        self.failure: BaseException | None = None
        self._spawning = threading.Lock()  # no restart slips in while the children are being stopped
        self.redis: EmbeddedServer | None = None
        self._lifeline_read, self._lifeline_write = -1, -1
        self._lock_file = None
        self._lock_instance()  # ConfigError when another `portal run` holds the instance folder

    # ------------------------------------------------------------------------------------------ main thread
    def run(self) -> int:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        # Every child inherits the read end; only this process holds the write end. When this process is gone,
        # however it went, the children read end-of-file (portal.ops.lifeline).
        self._lifeline_read, self._lifeline_write = os.pipe()
        os.set_inheritable(self._lifeline_read, True)
        redis_url = self.settings.REDIS_URL
        if not redis_url:
            self.redis = EmbeddedServer(self.settings.INSTANCE_PATH)
            self.redis.stop_orphans()
            redis_url = self.redis.url
        env = {**os.environ, "PORTAL_REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1"}
        # One thread starts every child and restarts them: Linux sends the parent-death signal when the
        # *thread* that forked a child ends, so this thread lives until everything is stopped.
        threading.Thread(target=self._supervise, args=(env,), name="children", daemon=True).start()
        server = None
        previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
        try:
            self._wait_ready()  # Redis answers
            app = create_app({"REDIS_URL": redis_url})
            with app.app_context():
                migrate.upgrade()
            self.ready.clear()
            self.start_children.set()
            self._wait_ready()  # worker and cron started
            server = create_server(app, host=self.host, port=self.port, threads=self.threads)
            self._announce(server, redis_url, describe_transport(self.settings))
            server.run()  # waitress stops its loop on KeyboardInterrupt (Ctrl-C, and SIGTERM/SIGHUP above)
        except KeyboardInterrupt:
            pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stopping.set()
            if server is not None:
                server.close()
            self._stop_children()
            self._stop_redis()
            self.finished.set()
            os.close(self._lifeline_write)
        print("Training Portal stopped.", flush=True)
        return 0

    def _lock_instance(self) -> None:
        folder = Path(self.settings.INSTANCE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(folder / "portal-run.lock", "a+")  # noqa: SIM115 - held for the launcher's life
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.seek(0)
            holder = self._lock_file.read().strip() or "another process"
            raise ConfigError(f"another `portal run` ({holder}) is using the instance folder {folder}") from None
        self._lock_file.seek(0)
        self._lock_file.truncate()
        self._lock_file.write(f"pid {os.getpid()}\n")
        self._lock_file.flush()

    def _wait_ready(self) -> None:
        while not self.ready.wait(0.1):
            pass
        if self.failure is not None:
            raise RuntimeError(f"could not start: {self.failure}") from self.failure

    def _announce(self, server, redis_url: str, mail: str) -> None:
        url = f"http://{self.host}:{server.effective_port}/"
        redis_line = f"{redis_url} (embedded, pid {self.children['redis'].process.pid})" if self.redis else redis_url
        lines = [
            "Training Portal is running.",
            f"  web        {url}",
            f"  database   {make_url(self.settings.database_url).render_as_string(hide_password=True)}",
            f"  redis      {redis_line}",
            f"  worker     pid {self.children['worker'].process.pid}",
            f"  cron       pid {self.children['cron'].process.pid}",
            f"  mail       {mail}",
            f"  instance   {self.settings.INSTANCE_PATH}",
            "Press Ctrl-C to stop everything.",
        ]
        print("\n".join(lines), flush=True)

    def _stop_children(self) -> None:
        with self._spawning:  # `stopping` is set: from here on the supervisor starts nothing
            running = [c for name, c in self.children.items() if name != "redis" and c.process is not None]
        for child in running:
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)  # children lead their own groups: Ctrl-C did not reach them
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in running:
            try:
                child.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %s s; killing it", child.name, STOP_GRACE_SECONDS)
            _kill_group(child.process)  # and whatever it forked (rq's work horse, its scheduler)
            child.process.wait(timeout=5)

    def _stop_redis(self) -> None:
        child = self.children.get("redis")
        if self.redis is not None and child is not None and child.process is not None:
            self.redis.shutdown(child.process)
            _kill_group(child.process)

    # ------------------------------------------------------------------------------------------ supervisor thread
    def _supervise(self, env: dict[str, str]) -> None:
        try:
            if self.redis is not None:
                self.children["redis"] = Child("redis", self._lifeline_argv("exec", *self.redis.command()))
                self._spawn(self.children["redis"], env)
                self.redis.wait_ready(self.children["redis"].process)
        except BaseException as exc:  # reported by the main thread
            self.failure = exc
        self.ready.set()
        if self.failure is None:
            while not self.start_children.wait(0.1):
                if self.stopping.is_set():
                    break
            with self._spawning:
                if not self.stopping.is_set():
                    for name, module in CHILDREN.items():
                        self.children[name] = Child(name, self._lifeline_argv("module", module))
                        self._spawn(self.children[name], env)
            self.ready.set()
            while not self.stopping.wait(WATCH_EVERY_SECONDS):
                self._watch_once(env)
        self.finished.wait()

    def _lifeline_argv(self, kind: str, *target: str) -> list[str]:
        return [sys.executable, "-m", "portal.ops.lifeline", str(os.getpid()), str(self._lifeline_read), kind, *target]

    def _spawn(self, child: Child, env: dict[str, str]) -> None:
        child.process = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            child.argv, env=env, pass_fds=(self._lifeline_read,), process_group=0
        )
        child.started_at = time.monotonic()
        child.restart_at = None

    def _watch_once(self, env: dict[str, str]) -> None:
        now = time.monotonic()
        for child in list(self.children.values()):
            if self.stopping.is_set():
                return
            if child.restart_at is None:
                code = child.process.poll()
                if code is None:
                    continue
                _kill_group(child.process)  # what it forked goes with it
                ran = now - child.started_at
                child.failures = 1 if ran >= STABLE_AFTER_SECONDS else child.failures + 1
                child.restart_at = now + child.delay()
                log.warning(
                    "%s (pid %s) exited with code %s after %.0f s; restarting it in %s s",
                    child.name,
                    child.process.pid,
                    code,
                    ran,
                    child.delay(),
                )
            elif now >= child.restart_at:
                with self._spawning:
                    if self.stopping.is_set():
                        return
                    self._spawn(child, env)
                log.warning("%s restarted (pid %s)", child.name, child.process.pid)
                if child.name == "redis" and self.redis is not None:
                    with contextlib.suppress(RuntimeError):
                        self.redis.wait_ready(child.process, timeout=5)


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
