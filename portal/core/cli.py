"""What every package's commands share (running inside the app that the `portal` command builds), and `portal db`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask.cli import ScriptInfo

from portal.core import migrate
from portal.extensions import db as database


def with_app(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command inside an app context of the app the `portal` group's ScriptInfo builds (portal/cli.py puts
    it on the click context): always a fresh app from the environment, never one a caller happened to push."""

    @click.pass_context
    def wrapper(ctx: click.Context, /, *args: Any, **kwargs: Any) -> Any:
        app = ctx.ensure_object(ScriptInfo).load_app()
        with app.app_context():
            try:
                return ctx.invoke(func, *args, **kwargs)
            finally:
                database.session.remove()
                database.engine.dispose()  # a command leaves no open connection behind

    return functools.update_wrapper(wrapper, func)


@click.group("db", help="Database schema.")
def db_group() -> None:
    pass


@db_group.command(help="Apply every migration (creates the database on first run).")
@with_app
def upgrade() -> None:
    migrate.upgrade()
    click.echo("database is up to date")


@db_group.command(help="Show the revision the database is at, and the newest one.")
@with_app
def current() -> None:
    click.echo(f"database: {migrate.current_revision() or '(empty)'}\nnewest:   {migrate.head_revision()}")


@db_group.command(
    help="Undo migrations: REVISION is -1 (one step, the default), -N, a revision id, or base. Columns and tables "
    "the undone migrations added are dropped with their data: back up first (portal db backup).",
    context_settings={"ignore_unknown_options": True},  # `portal db downgrade -2` is a revision, not an option
)
@click.argument("revision", default="-1")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_app
def downgrade(revision: str, yes: bool) -> None:
    try:
        target = migrate.downgrade_target(revision)
    except migrate.DatabaseOperationError as exc:
        raise click.ClickException(str(exc)) from None
    current_revision = migrate.current_revision()
    click.echo(f"downgrade from {current_revision} to {target or 'base (no tables)'}")
    if not yes:
        click.confirm("Data in what these migrations added is lost. Go on?", abort=True)
    migrate.downgrade(target or "base")
    click.echo(f"database is at {migrate.current_revision() or 'base'}")


@db_group.command(
    help="Write a consistent copy of the database to PATH while the portal runs (SQLite: the online backup API, "
    "one file; PostgreSQL: pg_dump --format=custom). PATH must not exist."
)
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_app
def backup(path: Path) -> None:
    try:
        migrate.backup(path)
    except migrate.DatabaseOperationError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backed up to {path} ({path.stat().st_size:,} bytes)")


@db_group.command(
    help="Replace the whole database with the backup at PATH (made by portal db backup). Everything written since "
    "that backup is lost. Stop the workers and cron first; run portal db upgrade after restoring an older backup."
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_app
def restore(path: Path, yes: bool) -> None:
    if not yes:
        click.confirm(f"Replace the whole database with {path}? Everything written since is lost", abort=True)
    try:
        migrate.restore(path)
    except migrate.DatabaseOperationError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restored from {path}; database at {migrate.current_revision() or '(empty)'}")


@db_group.command(help="Autogenerate a migration from the models (for developers).")
@click.option("-m", "--message", required=True)
@with_app
def revision(message: str) -> None:
    migrate.revision(message)
