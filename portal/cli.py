"""The `portal` command. Each package contributes its own commands; this file only assembles them.

Package commands load on first use (click's lazy-group pattern), so `portal cron` or `portal worker` start without
loading every package's command module. Commands that need the app use `portal.core.cli.with_app`: the group
puts a ScriptInfo on the click context that builds the app from the environment.
"""

from __future__ import annotations

import importlib
import sys

import click
from flask import Flask
from flask.cli import ScriptInfo

from portal.config import ConfigError
from portal.core.cli import with_app

# name -> "module:attribute" of a click command or group, loaded when it is asked for
PACKAGE_COMMANDS = {
    "demo": "portal.demo:demo",
    "video": "portal.video.cli:video",
    "run": "portal.ops.cli:run",
    "worker": "portal.ops.cli:worker",
    "cron": "portal.ops.cli:cron",
}


class PortalGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *PACKAGE_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in PACKAGE_COMMANDS:
            module, _, attribute = PACKAGE_COMMANDS[cmd_name].partition(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, cmd_name)


def app_from_environment() -> Flask:
    """The app for a command, from the PORTAL_* environment; a bad setting is a clear error, not a traceback."""
    from portal.app import create_app  # noqa: PLC0415  (only commands that need the app load it all)

    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from None


@click.group(cls=PortalGroup, help="Training Portal: schedule live training sessions; members join them.")
@click.pass_context
def main(ctx: click.Context) -> None:
    ctx.obj = ScriptInfo(create_app=app_from_environment, set_debug_flag=False)


@main.group(help="Database schema.")
def db() -> None:
    pass


@db.command(help="Apply every migration (creates the database on first run).")
@with_app
def upgrade() -> None:
    from portal.core import migrate  # noqa: PLC0415  (CLI start-up: alembic loads with this command only)

    migrate.upgrade()
    click.echo("database is up to date")


@db.command(help="Autogenerate a migration from the models (for developers).")
@click.option("-m", "--message", required=True)
@with_app
def revision(message: str) -> None:
    from portal.core import migrate  # noqa: PLC0415  (CLI start-up: alembic loads with this command only)

    migrate.revision(message)


@main.group(help="User accounts.")
def users() -> None:
    pass


@users.command("create", help="Create a user.")
@click.option("--email", required=True)
@click.option("--password", required=True, help="At least 10 characters.")
@click.option(
    "--role",
    default="member",
    show_default=True,
    type=click.Choice(["public", "member", "instructor", "board_member", "admin"]),
)
@click.option("--name", default=None, help="Defaults to the part of the email before @.")
@click.option("--timezone", default="UTC", show_default=True)
@with_app
def create_user(email: str, password: str, role: str, name: str | None, timezone: str) -> None:
    from portal.accounts.operations import create_user as create  # noqa: PLC0415  (CLI start-up)
    from portal.core.errors import ValidationFailed  # noqa: PLC0415  (CLI start-up)
    from portal.extensions import db as database  # noqa: PLC0415  (CLI start-up)

    try:
        user = create(email, name or email.split("@")[0], password, role=role, timezone=timezone)
    except ValidationFailed as exc:
        for field, message in exc.fields.items():
            click.echo(f"{field}: {message}", err=True)
        sys.exit(2)
    database.session.commit()
    click.echo(f"created {user.email} ({user.role}), id {user.id}")
