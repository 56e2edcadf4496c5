"""`portal users`: accounts from the command line."""

from __future__ import annotations

import sys

import click

from portal.accounts.operations import create_user as create
from portal.accounts.roles import ROLES
from portal.core.cli import with_app
from portal.core.errors import ValidationFailed
from portal.extensions import db


@click.group(help="User accounts.")
def users() -> None:
    pass


@users.command("create", help="Create a user.")
@click.option("--email", required=True)
@click.option("--password", required=True, help="At least 10 characters.")
@click.option("--role", default="member", show_default=True, type=click.Choice([r.value for r in ROLES]))
@click.option("--name", default=None, help="Defaults to the part of the email before @.")
@click.option("--timezone", default="UTC", show_default=True)
@with_app
def create_user(email: str, password: str, role: str, name: str | None, timezone: str) -> None:
    try:
        user = create(email, name or email.split("@")[0], password, role=role, timezone=timezone)
    except ValidationFailed as exc:
        for field, message in exc.fields.items():
            click.echo(f"{field}: {message}", err=True)
        sys.exit(2)
    db.session.commit()
    click.echo(f"created {user.email} ({user.role}), id {user.id}")
