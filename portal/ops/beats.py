"""Heartbeats written without the app: the light processes (cron) record theirs with a bare SQLAlchemy engine.

`HEARTBEATS` is the `heartbeats` table of portal.ops.models.Heartbeat as a Core table (the model would load
Flask-SQLAlchemy and the app's extensions; tests/test_schedule.py checks the two agree)."""

from __future__ import annotations

import os
import socket
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

import portal.core.sqlite  # noqa: F401  (the pragmas of every SQLite connection: WAL, busy timeout)
from portal.core.clock import now_utc
from portal.core.db import UTCDateTime

HEARTBEATS = sa.Table(
    "heartbeats",
    sa.MetaData(),
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("seen_at", UTCDateTime(), nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
)


def process_name(kind: str) -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}"


def record_beat(engine: sa.Engine, name: str, kind: str, details: dict[str, Any] | None = None) -> None:
    """Upsert this process's row in its own short transaction."""
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    values = {"name": name, "kind": kind, "seen_at": now_utc(), "details": details or {}}
    statement = insert(HEARTBEATS).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=["name"], set_={"seen_at": statement.excluded.seen_at, "details": statement.excluded.details}
    )
    with engine.begin() as connection:
        connection.execute(statement)
