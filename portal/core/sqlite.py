"""SQLite settings for a file shared by the web server and the workers: registered for every SQLite connection of
the process when this module is imported (portal.extensions does)."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
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
