"""The process harness of the fault-injection suite (tests/test_faults.py, tests/test_run.py): start a real
`portal run`, find its processes by pid (Linux /proc), kill them, wait for things to happen with a bounded wait.

`PortalRun(tmp_path, env)` starts `portal run` in its own process group (as a shell starts a foreground job, so a
terminal's Ctrl-C is `ctrl_c()`: SIGINT to the whole group); `.pids()` maps worker / cron / redis to their
current pids; `.family()` is every process the launcher started, and theirs; `.gone(pids)` waits until none
of them lives.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.plugins.browser import free_port


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None when it does not exist."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    stat = proc_stat(pid)
    return stat is not None and stat[0] != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat is not None:
                children.setdefault(stat[1], []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def get(url: str):
    try:
        return requests.get(url, timeout=3)
    except requests.RequestException:
        return None


class PortalRun:
    def __init__(self, tmp_path: Path, env: dict[str, str], *, name: str = "portal"):
        self.port = free_port()
        self.log = tmp_path / f"{name}.log"
        self.base = f"http://127.0.0.1:{self.port}"
        command = [str(Path(sys.executable).parent / "portal"), "run", "--port", str(self.port)]
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, process_group=0)
        self.pid = self.process.pid

    # ---------------------------------------------------------------------------------------------- looking
    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def pids(self) -> dict[str, int]:
        """The launcher's current children by role (worker and cron run under portal.ops.lifeline)."""
        found = {}
        for pid in descendants(self.pid):
            stat, line = proc_stat(pid), cmdline(pid)
            if stat is None or stat[1] != self.pid or stat[0] == "Z":
                continue
            for role in ("portal.ops.worker", "portal.ops.cron", "redis-server"):
                if role in line:
                    found[role.rsplit(".", 1)[-1].replace("redis-server", "redis")] = pid
        return found

    def family(self) -> set[int]:
        return descendants(self.pid)

    def healthz(self) -> dict | None:
        response = get(f"{self.base}/healthz")
        return response.json() if response is not None and response.status_code == 200 else None

    def wait_for(self, predicate, timeout: float, what: str, *, running: bool = True):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if running and self.process.poll() is not None:
                pytest.fail(f"portal run exited ({self.process.returncode}) while waiting for {what}:\n{self.tail()}")
            value = predicate()
            if value:
                return value
            time.sleep(0.25)
        pytest.fail(f"timed out ({timeout} s) waiting for {what}:\n{self.tail()}")

    def wait_started(self, timeout: float = 90) -> dict[str, int]:
        self.wait_for(self.healthz, timeout, "/healthz")
        return self.wait_for(lambda: (p := self.pids()) and {"worker", "cron", "redis"} <= set(p) and p, 30, "children")

    def tail(self, chars: int = 8000) -> str:
        """The end of the log, without rq's line-per-job chatter (what went wrong is easier to see)."""
        routine = ("Successfully completed", "Job OK", "result is kept", "cleaning registries", "enqueued cron-")
        lines = [line for line in self.text().splitlines() if not any(r in line for r in routine)]
        return "\n".join(lines)[-chars:]

    # ---------------------------------------------------------------------------------------------- acting
    def ctrl_c(self) -> None:
        """What a terminal does on Ctrl-C: SIGINT to the foreground process group."""
        os.killpg(self.pid, signal.SIGINT)

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def stop(self, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def cleanup(self, pids: set[int] = frozenset()) -> None:
        """After a test, whatever happened: nothing of this run may outlive it."""
        family = self.family() | set(pids)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for pid in family:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def wait_gone(pids: set[int], timeout: float) -> list[int]:
    """Waits until none of `pids` lives; returns those still alive after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.1)
    return sorted(pid for pid in pids if alive(pid))


def portal_env(instance: Path, **settings: str) -> dict[str, str]:
    """A fresh machine's environment (no PORTAL_ settings of the test run leak in) plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update({"PORTAL_INSTANCE_PATH": str(instance), "PYTHONUNBUFFERED": "1"})
    env.update({f"PORTAL_{k}": v for k, v in settings.items()})
    return env


def main() -> None:
    """A child that says it runs, then does nothing for five minutes (`python -m portal.ops.lifeline ... module
    tests.faults_harness`)."""
    print("running", flush=True)
    time.sleep(300)
