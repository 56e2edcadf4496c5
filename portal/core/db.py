"""Declarative base, naming convention (stable constraint names for Alembic) and the UTC datetime type."""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, registry

from portal.config import current_settings
from portal.core.clock import now_utc

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator):
    """Aware UTC datetimes in and out, on SQLite (naive storage) and PostgreSQL (timestamptz) alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION), type_annotation_map={datetime: UTCDateTime()}
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)


def upsert_insert(model, session: Session):
    """`INSERT` for `model` in the dialect of `session`'s database, so callers can add `.on_conflict_do_nothing()` /
    `.on_conflict_do_update()` (PostgreSQL and SQLite spell them alike)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert(model)


# SQLite's "database is locked" (SQLITE_BUSY) and "database table is locked" (SQLITE_LOCKED), and PostgreSQL's
# lock_not_available (a lock_timeout ran out): the statement waited for another connection's lock and gave up.
_SQLITE_LOCK_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED (extended codes keep these in their low byte)
_POSTGRES_LOCK_STATES = {"55P03"}


def is_lock_timeout(exc: BaseException) -> bool:
    """Whether `exc` (a SQLAlchemy error, or the driver's) says a lock held elsewhere outlasted the wait: worth a
    503 with Retry-After, not a 500."""
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, sqlite3.OperationalError):
        code = getattr(orig, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in _SQLITE_LOCK_CODES
        return "locked" in str(orig)
    return getattr(orig, "sqlstate", None) in _POSTGRES_LOCK_STATES


def busy_retry_after() -> int:
    """Seconds a client is told to wait (Retry-After) when the database was busy: one more lock wait."""
    return max(1, math.ceil(current_settings().SQLITE_BUSY_TIMEOUT_SECONDS))
