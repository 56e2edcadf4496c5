"""Alembic, driven from Python (no alembic.ini): `portal db upgrade` and app start-up call this. Also the database's
other operations: `portal db downgrade`, `current`, `backup` and `restore`.

Migrations take a lock first, so that two processes starting at once (two web servers, a deploy running
`portal db upgrade` while a worker starts) run them one after the other, the second finding nothing left to do:
on PostgreSQL a session advisory lock, on SQLite an exclusive lock on a file beside the database.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import URL

from portal.config import PROJECT_ROOT
from portal.extensions import db

# pg_advisory_lock's key for migrations: any fixed 64-bit number no other part of the portal uses
MIGRATION_LOCK_KEY = 7_341_170_288_615_501


class DatabaseOperationError(Exception):
    """A database operation that cannot be done, with a message for the person who asked (a CLI error)."""


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return cfg


def _url() -> URL:
    return db.engine.url


def _sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL; None for an in-memory database."""
    name = url.database or ""
    return None if name in ("", ":memory:") or name.startswith("file:") else Path(name)


@contextmanager
def migration_lock() -> Iterator[None]:
    """Held while migrations run; a second process waits here until the first is done."""
    url = _url()
    if url.get_backend_name() == "postgresql":
        with db.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()  # a session lock: it outlives this transaction, and no transaction stays open
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                connection.commit()
        return
    path = _sqlite_file(url) if url.get_backend_name() == "sqlite" else None
    if path is None:  # an in-memory database is one process's own
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.migrate-lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, also if the process dies
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(revision: str = "head") -> None:
    """Apply migrations up to `revision` (inside an app context), under the migration lock."""
    with migration_lock():
        command.upgrade(alembic_config(), revision)


def downgrade(revision: str = "-1") -> None:
    """Undo migrations down to `revision` ('-1' one step, a revision id, or 'base'), under the migration lock."""
    with migration_lock():
        command.downgrade(alembic_config(), revision)


def current_revision() -> str | None:
    """The revision the database is at (None before the first migration)."""
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def downgrade_target(revision: str) -> str | None:
    """The revision a downgrade to `revision` ends at (None: no migration left), to say before doing it.
    Raises DatabaseOperationError for a revision that does not exist or is not below the current one."""
    script = ScriptDirectory.from_config(alembic_config())
    current = current_revision()
    if current is None:
        raise DatabaseOperationError("the database has no migrations applied: nothing to downgrade")
    below = [r.revision for r in script.iterate_revisions(current, "base")]  # current first, then each one below
    if revision == "base":
        return None
    if revision.startswith("-") and revision[1:].isdigit() and int(revision[1:]) > 0:
        steps = int(revision[1:])
        if steps > len(below):
            raise DatabaseOperationError(f"cannot go {steps} steps down from {current}: there are {len(below)}")
        return below[steps] if steps < len(below) else None
    try:
        found = script.get_revision(revision)
    except Exception as exc:  # alembic's own errors for an unknown or ambiguous id
        raise DatabaseOperationError(f"unknown revision {revision!r}") from exc
    if found is None or found.revision not in below[1:]:
        raise DatabaseOperationError(f"{revision} is not a revision below the current one ({current})")
    return found.revision


def revision(message: str) -> None:
    """Autogenerate a migration from the models (developers only)."""
    command.revision(alembic_config(), message=message, autogenerate=True)


# ------------------------------------------------------------------------------------------------ backup, restore
def backup(path: Path) -> None:
    """A consistent copy of the whole database at `path`, taken while the portal runs: SQLite's online backup API
    (a single file), or pg_dump's custom format for PostgreSQL. An existing file is not overwritten."""
    path = Path(path)
    if path.exists():
        raise DatabaseOperationError(f"{path} exists: choose a new file name")
    url = _url()
    if url.get_backend_name() == "sqlite":
        source = _sqlite_file(url)
        if source is None or not source.exists():
            raise DatabaseOperationError("no SQLite database file to back up")
        partial = path.with_name(f".{path.name}.partial")
        try:
            with closing(sqlite3.connect(source, timeout=30)) as live, closing(sqlite3.connect(partial)) as copy:
                live.backup(copy)  # page by page, consistent; writers elsewhere go on
                copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            partial.replace(path)  # the file appears complete or not at all
        finally:
            partial.unlink(missing_ok=True)
        return
    if url.get_backend_name() == "postgresql":
        _run_pg(["pg_dump", "--format=custom", "--no-owner", f"--file={path}"], url)
        return
    raise DatabaseOperationError(f"backup of {url.get_backend_name()} databases is not supported")


def restore(path: Path) -> None:
    """Replace the whole database with the backup at `path` (made by `backup`). SQLite: copied in with the online
    backup API, so running processes see the restored data at their next query; PostgreSQL: pg_restore --clean in one
    transaction (it waits for open transactions of running processes; stop the workers first to be safe)."""
    path = Path(path)
    if not path.is_file():
        raise DatabaseOperationError(f"{path} is not a file")
    url = _url()
    if url.get_backend_name() == "sqlite":
        target = _sqlite_file(url)
        if target is None:
            raise DatabaseOperationError("an in-memory database cannot be restored")
        _check_sqlite_backup(path)
        with closing(sqlite3.connect(path)) as saved, closing(sqlite3.connect(target, timeout=30)) as live:
            live.execute("PRAGMA busy_timeout=30000")
            saved.backup(live)
        return
    if url.get_backend_name() == "postgresql":
        _run_pg(
            ["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error"], url, path
        )
        return
    raise DatabaseOperationError(f"restore of {url.get_backend_name()} databases is not supported")


def _check_sqlite_backup(path: Path) -> None:
    """Refuse anything but a sound SQLite file with the portal's schema: a wrong file must not wipe the database."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as saved:
            sound = saved.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            tables = {row[0] for row in saved.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise DatabaseOperationError(f"{path} is not a SQLite database ({exc})") from exc
    if not sound or "alembic_version" not in tables:
        raise DatabaseOperationError(f"{path} is not a backup of the portal's database")


def _run_pg(arguments: list[str], url: URL, path: Path | None = None) -> None:
    """Run a PostgreSQL client with the database of `url`; the password goes through the environment, never the
    command line (which other users of the machine can read)."""
    tool = shutil.which(arguments[0])
    if tool is None:
        raise DatabaseOperationError(f"{arguments[0]} is not installed (the PostgreSQL client tools)")
    environment = {**os.environ, **({"PGPASSWORD": url.password} if url.password else {})}
    target = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    command_line = [tool, *arguments[1:], f"--dbname={target}", *([str(path)] if path else [])]
    with tempfile.TemporaryFile() as errors:
        result = subprocess.run(command_line, env=environment, stdout=subprocess.DEVNULL, stderr=errors, check=False)  # noqa: S603
        if result.returncode != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()
            raise DatabaseOperationError(f"{arguments[0]} failed: {message or f'exit status {result.returncode}'}")
