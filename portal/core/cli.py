"""What every package's commands share (running inside the app that the `portal` command builds), and `portal db`."""

from __future__ import annotations

import functools
from collections.abc import Callable
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


@db_group.command(help="Autogenerate a migration from the models (for developers).")
@click.option("-m", "--message", required=True)
@with_app
def revision(message: str) -> None:
    migrate.revision(message)
