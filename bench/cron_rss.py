"""The cron process's memory, versus a process that builds the whole app (what cron did before issue 13).

Run: .venv/bin/python bench/cron_rss.py
A throw-away instance (SQLite, migrated) and its own redis-server; `python -m portal.ops.cron` runs until its
first heartbeat is in the database; then its resident memory (VmRSS) is read, and the same for a process that
only runs `create_app()` (the baseline, measured in the same run). Last line: cron / whole app.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from portal.app import create_app
from portal.core import migrate
from portal.core.redis import EmbeddedServer

APP_ONLY = "import time; from portal.app import create_app; create_app(); print('ready', flush=True); time.sleep(600)"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite:///{folder}/portal.db"
        server = EmbeddedServer(folder)
        redis_process = subprocess.Popen(server.command())
        try:
            server.wait_ready(redis_process)
            env = {**os.environ, "PORTAL_INSTANCE_PATH": folder, "PORTAL_DATABASE_URL": database}
            env["PORTAL_REDIS_URL"] = server.url
            env["PORTAL_WORKER_HEARTBEAT_SECONDS"] = "1"
            app = create_app({"DATABASE_URL": database, "INSTANCE_PATH": folder, "REDIS_URL": server.url})
            with app.app_context():
                migrate.upgrade()
            engine = sa.create_engine(database)
            cron = subprocess.Popen([sys.executable, "-m", "portal.ops.cron"], env=env, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    if conn.execute(sa.text("SELECT count(*) FROM heartbeats WHERE kind = 'cron'")).scalar():
                        break
                time.sleep(0.2)
            time.sleep(2)  # a few ticks
            cron_mib = rss_mib(cron.pid)
            cron.terminate()
            cron.wait(timeout=10)
            whole = subprocess.Popen([sys.executable, "-c", APP_ONLY], env=env, stdout=subprocess.PIPE, text=True)
            whole.stdout.readline()
            app_mib = rss_mib(whole.pid)
            whole.kill()
            whole.wait()
            engine.dispose()
        finally:
            server.shutdown(redis_process)
    print(f"cron process (after its first heartbeat): {cron_mib:.1f} MiB RSS")
    print(f"a process that builds the app (baseline):  {app_mib:.1f} MiB RSS")
    print(f"cron / whole app = {cron_mib / app_mib:.2f}")


if __name__ == "__main__":
    main()
