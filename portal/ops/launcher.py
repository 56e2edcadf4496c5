"""`portal run`: the whole portal in one command, for a laptop or a small server.

Order: settings -> Redis (embedded unless PORTAL_REDIS_URL) -> migrations -> worker and cron subprocesses
(`python -m portal.ops.worker`, `python -m portal.ops.cron`, same environment plus the Redis URL) -> the web
server (waitress) in this process. Ctrl-C or SIGTERM stops the web server, then the children (SIGTERM, then
SIGKILL after a grace period), then Redis. A child that dies is restarted (at most once every 5 seconds).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

from sqlalchemy.engine import make_url
from waitress import create_server

from portal.app import create_app
from portal.config import load_settings
from portal.core import migrate
from portal.core.redis import redis_url_for_children, stop_embedded
from portal.notifications.channels import describe_transport

log = logging.getLogger("portal.run")
CHILDREN = {"worker": "portal.ops.worker", "cron": "portal.ops.cron"}
STOP_GRACE_SECONDS = 10
RESTART_AFTER_SECONDS = 5


def _interrupt(*_args) -> None:
    raise KeyboardInterrupt


class Launcher:
    def __init__(self, *, host: str, port: int, threads: int = 8):
        self.host, self.port, self.threads = host, port, threads
        self.settings = load_settings()
        self.children: dict[str, subprocess.Popen] = {}
        self.stopping = threading.Event()

    def run(self) -> int:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

        redis_url = redis_url_for_children(self.settings)  # starts the embedded server unless PORTAL_REDIS_URL

        app = create_app({"REDIS_URL": redis_url})
        with app.app_context():
            migrate.upgrade()
        env = {**os.environ, "PORTAL_REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1"}
        for name in CHILDREN:
            self._start(name, env)
        threading.Thread(target=self._watch, args=(env,), name="children", daemon=True).start()

        server = create_server(app, host=self.host, port=self.port, threads=self.threads)
        previous = signal.signal(signal.SIGTERM, _interrupt)  # waitress stops its loop on KeyboardInterrupt
        self._announce(server, redis_url, describe_transport(self.settings))
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            self.stopping.set()
            server.close()
            self._stop_children()
            self._stop_redis()
        print("Training Portal stopped.", flush=True)
        return 0

    def _announce(self, server, redis_url: str, mail: str) -> None:

        url = f"http://{self.host}:{server.effective_port}/"
        lines = [
            "Training Portal is running.",
            f"  web        {url}",
            f"  database   {make_url(self.settings.database_url).render_as_string(hide_password=True)}",
            f"  redis      {redis_url}{'' if self.settings.REDIS_URL else ' (embedded)'}",
            f"  worker     pid {self.children['worker'].pid}",
            f"  cron       pid {self.children['cron'].pid}",
            f"  mail       {mail}",
            f"  instance   {self.settings.INSTANCE_PATH}",
            "Press Ctrl-C to stop everything.",
        ]
        print("\n".join(lines), flush=True)

    def _start(self, name: str, env: dict[str, str]) -> None:
        self.children[name] = subprocess.Popen([sys.executable, "-m", CHILDREN[name]], env=env)  # noqa: S603

    def _watch(self, env: dict[str, str]) -> None:
        while not self.stopping.wait(1.0):
            for name, process in list(self.children.items()):
                if process.poll() is not None and not self.stopping.is_set():
                    log.warning(
                        "%s exited with code %s; restarting in %s s", name, process.returncode, RESTART_AFTER_SECONDS
                    )
                    if self.stopping.wait(RESTART_AFTER_SECONDS):
                        return
                    self._start(name, env)

    def _stop_children(self) -> None:
        # A Ctrl-C in the terminal reached the children too; give them a moment to stop on their own.
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and any(p.poll() is None for p in self.children.values()):
            time.sleep(0.1)
        for process in self.children.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for name, process in self.children.items():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %s s; killing it", name, STOP_GRACE_SECONDS)
                process.kill()
                process.wait(timeout=5)

    def _stop_redis(self) -> None:

        stop_embedded(self.settings.INSTANCE_PATH)  # a no-op when PORTAL_REDIS_URL was used (none started)
