"""`portal db` operations (issue 16, item 9): downgrade, the migration lock (simultaneous upgrades), backup and restore
of SQLite and PostgreSQL. Each test works on a database of its own, never the suite's."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal.cli import main
from portal.core import migrate


def _env(base_config, tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        "PORTAL_ENV": "test",
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_REDIS_URL": base_config["REDIS_URL"],
        "PORTAL_SECRET_KEY": base_config["SECRET_KEY"],
        "PORTAL_INSTANCE_PATH": str(tmp_path),
    }


def portal(env: dict[str, str], *args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), env=env, input=input)


def _emails(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.scalars(text("SELECT email FROM users ORDER BY email")))
    finally:
        engine.dispose()


def _execute(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'ops.db'}"


@pytest.fixture
def postgres_url(database_url) -> Iterator[str]:
    """A scratch PostgreSQL database beside the suite's (only when the suite runs on PostgreSQL)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("the suite runs on SQLite; PostgreSQL's turn is PORTAL_TEST_DATABASE_URL=postgresql+psycopg://...")
    server = make_url(database_url)
    name = f"{server.database}_ops_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _user(env: dict[str, str], email: str) -> None:
    result = portal(env, "users", "create", "--email", email, "--password", "Kq7 harbour lantern", "--role", "member")
    assert result.exit_code == 0, result.output


# ------------------------------------------------------------------------------------------------ downgrade
def test_downgrade_goes_one_step_down_after_confirming_and_upgrade_comes_back(base_config, tmp_path, sqlite_url):
    env = _env(base_config, tmp_path, sqlite_url)
    assert portal(env, "db", "upgrade").exit_code == 0
    head = migrate.head_revision()
    assert f"database: {head}" in portal(env, "db", "current").output

    declined = portal(env, "db", "downgrade", input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert f"database: {head}" in portal(env, "db", "current").output

    done = portal(env, "db", "downgrade", input="y\n")
    assert done.exit_code == 0, done.output
    below = done.output.split("downgrade from ")[1].split(" to ")[1].split()[0]
    assert below != head and f"database is at {below}" in done.output
    assert f"database: {below}" in portal(env, "db", "current").output

    for bad in ("nonsense", head, "-99"):  # unknown, not below the current one, too many steps
        refused = portal(env, "db", "downgrade", bad, "--yes")
        assert refused.exit_code == 1 and "Error:" in refused.output, bad
    assert f"database: {below}" in portal(env, "db", "current").output

    assert portal(env, "db", "upgrade").exit_code == 0
    two = portal(env, "db", "downgrade", "-2", "--yes")
    assert two.exit_code == 0, two.output
    assert portal(env, "db", "current").output.split()[1] not in (head, below)
    assert portal(env, "db", "upgrade").exit_code == 0
    assert f"database: {head}" in portal(env, "db", "current").output
    assert portal(env, "db", "downgrade", "base", "--yes").exit_code == 0
    with closing(sqlite3.connect(tmp_path / "ops.db")) as raw:
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "users" not in tables


# ------------------------------------------------------------------------------------------------ the lock
def _upgrade_at_once(env: dict[str, str], processes: int) -> list[subprocess.CompletedProcess]:
    command = [sys.executable, "-c", "from portal.cli import main; main(['db', 'upgrade'])"]
    started = [
        subprocess.Popen(command, env={**_base_environment(), **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(processes)
    ]
    results = []
    for process in started:
        output, _ = process.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(command, process.returncode, output.decode()))
    return results


def _base_environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("PORTAL_")}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_simultaneous_upgrades_of_a_new_database_all_succeed(backend, base_config, tmp_path, request):
    url = request.getfixturevalue(f"{backend}_url" if backend == "sqlite" else "postgres_url")
    results = _upgrade_at_once(_env(base_config, tmp_path, url), 3)
    assert [r.returncode for r in results] == [0, 0, 0], "\n".join(r.stdout[-2000:] for r in results)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT version_num FROM alembic_version")) == migrate.head_revision()
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------------------ backup, restore
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_backup_then_change_then_restore_brings_the_data_back(backend, base_config, tmp_path, request):
    url = request.getfixturevalue(f"{backend}_url" if backend == "sqlite" else "postgres_url")
    env = _env(base_config, tmp_path, url)
    assert portal(env, "db", "upgrade").exit_code == 0
    _user(env, "kept@example.org")
    _user(env, "renamed@example.org")
    backup = tmp_path / "saved.backup"

    made = portal(env, "db", "backup", str(backup))
    assert made.exit_code == 0, made.output
    assert backup.stat().st_size > 0 and f"backed up to {backup}" in made.output
    again = portal(env, "db", "backup", str(backup))
    assert again.exit_code == 1 and "exists" in again.output  # never overwritten

    _execute(url, "DELETE FROM users WHERE email = 'kept@example.org'")
    _execute(url, "UPDATE users SET email = 'changed@example.org' WHERE email = 'renamed@example.org'")
    _user(env, "after@example.org")
    assert _emails(url) == ["after@example.org", "changed@example.org"]

    declined = portal(env, "db", "restore", str(backup), input="n\n")
    assert declined.exit_code == 1 and _emails(url) == ["after@example.org", "changed@example.org"]
    restored = portal(env, "db", "restore", str(backup), "--yes")
    assert restored.exit_code == 0, restored.output
    assert _emails(url) == ["kept@example.org", "renamed@example.org"]
    assert f"database at {migrate.head_revision()}" in restored.output
    _user(env, "new@example.org")  # the restored database takes writes (sequences and ids restored too)
    assert "new@example.org" in _emails(url)


def test_a_sqlite_backup_is_consistent_while_a_writer_holds_a_transaction(base_config, tmp_path, sqlite_url):
    env = _env(base_config, tmp_path, sqlite_url)
    assert portal(env, "db", "upgrade").exit_code == 0
    _user(env, "committed@example.org")
    with closing(sqlite3.connect(tmp_path / "ops.db", isolation_level=None)) as writer:
        writer.execute("BEGIN IMMEDIATE")  # the portal mid-write: the backup must not wait for it nor see it
        writer.execute("UPDATE users SET email = 'uncommitted@example.org'")
        assert portal(env, "db", "backup", str(tmp_path / "live.backup")).exit_code == 0
        writer.execute("ROLLBACK")
    with closing(sqlite3.connect(tmp_path / "live.backup")) as saved:
        assert [row[0] for row in saved.execute("SELECT email FROM users")] == ["committed@example.org"]
        assert saved.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one file, nothing beside it
    assert not (tmp_path / "live.backup-wal").exists()


def test_restore_refuses_a_file_that_is_no_backup_and_keeps_the_database(base_config, tmp_path, sqlite_url):
    env = _env(base_config, tmp_path, sqlite_url)
    assert portal(env, "db", "upgrade").exit_code == 0
    _user(env, "still@example.org")
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database")
    other = tmp_path / "other.db"
    with closing(sqlite3.connect(other)) as raw:
        raw.execute("CREATE TABLE t (x)")
    for path in (junk, other):
        refused = portal(env, "db", "restore", str(path), "--yes")
        assert refused.exit_code == 1 and "Error:" in refused.output, refused.output
    assert _emails(sqlite_url) == ["still@example.org"]
