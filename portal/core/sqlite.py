"""SQLite settings for a file shared by the web server and the workers: registered for every SQLite connection of
the process when this module is imported (portal.extensions does).

WAL mode lets reads go on while another connection (a worker, a backup, a `sqlite3` shell) holds the write lock;
a write waits for that lock at most SQLITE_BUSY_TIMEOUT_SECONDS, then fails with "database is locked", which the
web answers 503 with Retry-After (portal.core.errors) instead of holding its thread."""

from __future__ import annotations

import sqlite3

from flask import has_app_context
from sqlalchemy import event
from sqlalchemy.engine import Engine

from portal.config import Settings, current_settings
from portal.core.db import is_lock_timeout

HEALTH_LOCK_WAIT_SECONDS = 0.5  # /healthz: a write lock held longer than this is reported as "locked"


def busy_timeout_ms() -> int:
    """The app's SQLITE_BUSY_TIMEOUT_SECONDS (its default outside an app, e.g. a bare engine in a script)."""
    seconds = current_settings().SQLITE_BUSY_TIMEOUT_SECONDS if has_app_context() else _default_busy_timeout()
    return max(0, round(seconds * 1000))


def _default_busy_timeout() -> float:
    return Settings.__dataclass_fields__["SQLITE_BUSY_TIMEOUT_SECONDS"].default


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms()}")
        cursor.close()


@event.listens_for(Engine, "savepoint")
def _savepoint_inside_a_transaction(connection, _name) -> None:
    """Python's sqlite3 opens no transaction for SAVEPOINT, so a savepoint that is a transaction's first write would
    be a transaction of its own, committed when it is released, and kept even if the request then rolls back.
    Open the transaction first (deferred, as sqlite3 itself would before a write)."""
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        if not raw.in_transaction:
            raw.execute("BEGIN")


def write_lock_held_elsewhere(engine: Engine, wait: float = HEALTH_LOCK_WAIT_SECONDS) -> bool:
    """Whether another connection holds the SQLite write lock for longer than `wait` seconds (a backup, a shell in
    a transaction, a stuck process): writes would wait, then fail. Takes the lock for a moment and lets it go at
    once (nothing is written). Always False on other databases."""
    if engine.dialect.name != "sqlite":
        return False
    pooled = engine.raw_connection()
    try:
        connection = pooled.driver_connection
        if connection.in_transaction:  # a pooled connection is never in one; do not touch someone's transaction
            return False
        connection.execute(f"PRAGMA busy_timeout={max(0, round(wait * 1000))}")
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if is_lock_timeout(exc):
                return True
            raise
        finally:
            connection.execute(f"PRAGMA busy_timeout={busy_timeout_ms()}")
        connection.execute("ROLLBACK")
        return False
    finally:
        pooled.close()
