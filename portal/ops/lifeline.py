"""A child of `portal run` dies with its launcher, however the launcher dies (SIGKILL included).

Two mechanisms, because neither alone is enough:

- **Linux `PR_SET_PDEATHSIG`** (prctl through ctypes): the kernel sends the child SIGTERM the moment the
  launcher exits. It survives `exec`, so it also covers a non-Python child (redis-server): this module sets it,
  then execs the server. It is set here, in the child's own first lines, rather than in a `preexec_fn`: a
  `preexec_fn` runs between fork and exec in a process that copied the launcher's threads' locks (waitress has 8
  threads), which Python's documentation warns may deadlock. The window between fork and the prctl call is
  closed by comparing `os.getppid()` with the launcher's pid right after it.
- **A pipe each child watches** (portable: macOS, the BSDs): the launcher keeps the write end, the child
  inherits only the read end; the read returns end-of-file when the launcher is gone, whatever killed it
  (the kernel closes a dead process's files). On Linux it also backs up the signal.

Either way the child is asked to stop (SIGTERM: a worker finishes its job, cron stops between ticks) and is
killed if it has not stopped within GRACE_SECONDS, with its whole process group: the launcher starts each child
as the leader of its own group, so what the child forked (rq's work horse and scheduler) goes with it. Nothing
outlives the launcher for long.

Use: `python -m portal.ops.lifeline <launcher pid> <pipe fd> module <dotted module>` (runs the module's
`main()`), or `... exec <program> <args...>` (redis-server).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import os
import signal
import subprocess
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
GRACE_SECONDS = 8.0
PIPE_ONLY = "PORTAL_LIFELINE_PIPE_ONLY"  # tests: "1" skips prctl, to exercise the portable path on Linux


def set_parent_death_signal(sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send `sig` to this process when its parent exits. False where there is no prctl."""
    if not sys.platform.startswith("linux") or os.environ.get(PIPE_ONLY) == "1":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _block_until_eof(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 1):
                return
        except InterruptedError:
            continue
        except OSError:
            return


def watch_pipe(fd: int, on_parent_gone) -> threading.Thread:
    """A daemon thread that calls `on_parent_gone()` once the launcher's end of the pipe is closed."""

    def run() -> None:
        _block_until_eof(fd)
        on_parent_gone()

    thread = threading.Thread(target=run, name="lifeline", daemon=True)
    thread.start()
    return thread


def _stop_self(*, signalled: bool) -> None:
    """The launcher is gone: stop gently (unless the kernel already sent SIGTERM), then for good, with whatever
    this process forked (its process group, when it leads one: never a group it merely belongs to)."""
    if not signalled:
        os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_SECONDS)
    if os.getpgid(0) == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def _run_module(module: str) -> int:
    importlib.import_module(module).main()
    return 0


def _exec_program(argv: list[str], launcher_pid: int, fd: int, have_pdeathsig: bool) -> int:
    if have_pdeathsig:
        os.close(fd)  # the signal is set and survives exec: become the program itself (no extra process)
        os.execv(argv[0], argv)  # noqa: S606 - the launcher's fixed program
    # No prctl: stay as the program's parent, forward stop signals, and stop it when the launcher is gone.
    process = subprocess.Popen(argv, start_new_session=True)  # noqa: S603 - the launcher's fixed program

    def forward(signum, _frame) -> None:
        if process.poll() is None:
            process.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)

    def parent_gone() -> None:
        forward(signal.SIGTERM, None)
        try:
            process.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()

    watch_pipe(fd, parent_gone)
    return process.wait()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    launcher_pid, fd, kind, rest = int(args[0]), int(args[1]), args[2], args[3:]
    have_pdeathsig = set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != launcher_pid:  # the launcher died before the signal was set
        return 1
    if kind == "exec":
        return _exec_program(rest, launcher_pid, fd, have_pdeathsig)
    watch_pipe(fd, lambda: _stop_self(signalled=have_pdeathsig))
    return _run_module(rest[0])


if __name__ == "__main__":
    sys.exit(main())
