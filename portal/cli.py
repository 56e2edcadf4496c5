"""The `portal` command. Each package contributes its own group; this file only assembles them."""

from __future__ import annotations

import functools
import sys

import click

from portal.config import ConfigError


def with_app(func):
    """Run a command inside an app context built from the environment."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from portal import create_app

        try:
            app = create_app()
        except ConfigError as exc:
            raise click.ClickException(f"configuration: {exc}") from None
        with app.app_context():
            return func(*args, **kwargs)

    return wrapper


@click.group(help="Training Portal: schedule live training sessions; members join them.")
def main() -> None:
    pass


@main.group(help="Database schema.")
def db() -> None:
    pass


@db.command(help="Apply every migration (creates the database on first run).")
@with_app
def upgrade() -> None:
    from portal.core import migrate

    migrate.upgrade()
    click.echo("database is up to date")


@db.command(help="Autogenerate a migration from the models (for developers).")
@click.option("-m", "--message", required=True)
@with_app
def revision(message: str) -> None:
    from portal.core import migrate

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
    from portal.accounts.operations import create_user as create
    from portal.core.errors import ValidationFailed
    from portal.extensions import db as database

    try:
        user = create(email, name or email.split("@")[0], password, role=role, timezone=timezone)
    except ValidationFailed as exc:
        for field, message in exc.fields.items():
            click.echo(f"{field}: {message}", err=True)
        sys.exit(2)
    database.session.commit()
    click.echo(f"created {user.email} ({user.role}), id {user.id}")


def _add_package_commands() -> None:
    from portal.demo import demo
    from portal.ops.cli import OPS_COMMANDS
    from portal.video.cli import video

    main.add_command(demo)
    main.add_command(video)
    for command in OPS_COMMANDS:
        main.add_command(command)


_add_package_commands()


def register_flask_cli(app) -> None:
    """`flask --app portal` users get the same commands."""
    app.cli.add_command(main, "portal")
