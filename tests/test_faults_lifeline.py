"""portal.ops.lifeline: a child of `portal run` dies with the launcher, SIGKILL included, both ways: by Linux's
parent-death signal, and by the pipe it watches (the portable path, forced here with PORTAL_LIFELINE_PIPE_ONLY).
A stand-in launcher starts one child through the lifeline and is SIGKILLed; nothing it started may live on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.faults_harness import alive, cmdline, descendants, wait_gone

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds processes in /proc")

LAUNCHER = """
import os, subprocess, sys, time
read, write = os.pipe()
target = sys.argv[1:]
child = subprocess.Popen(
    [sys.executable, "-m", "portal.ops.lifeline", str(os.getpid()), str(read), *target],
    pass_fds=(read,), process_group=0,
)
print(child.pid, flush=True)
time.sleep(300)
"""


@pytest.mark.parametrize("mode", ["prctl", "pipe"])
@pytest.mark.parametrize(
    ("target", "shows"),
    [(["exec", "/bin/sleep", "300"], "sleep 300"), (["module", "tests.faults_harness"], "tests.faults_harness")],
)
def test_a_child_dies_with_its_sigkilled_launcher(mode, target, shows):
    env = {**os.environ, "PORTAL_LIFELINE_PIPE_ONLY": "1" if mode == "pipe" else "0"}
    launcher = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, *target], env=env, stdout=subprocess.PIPE, text=True, process_group=0
    )
    family: set[int] = set()
    try:
        child = int(launcher.stdout.readline())
        if target[0] == "module":  # past the lifeline's start (its own checks), in the module's main()
            assert launcher.stdout.readline().strip() == "running"
        deadline = time.monotonic() + 20
        while not any(shows in cmdline(pid) for pid in {child} | descendants(child)):  # the target runs
            assert time.monotonic() < deadline, cmdline(child)
            time.sleep(0.05)
        family = {child} | descendants(child)
        if mode == "prctl" and target[0] == "exec":  # the signal is set: the program replaced the lifeline
            assert shows in cmdline(child)
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(timeout=10)
        family |= descendants(child)
        assert wait_gone(family, 15) == []
    finally:
        for pid in family:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if launcher.poll() is None:
            launcher.kill()
        launcher.wait(timeout=10)
        launcher.stdout.close()
