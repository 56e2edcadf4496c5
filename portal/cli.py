"""The `portal` command. Each package contributes its own commands; this file only assembles them.

Package commands load on first use (click's lazy-group pattern), so `portal cron` or `portal worker` start without
loading every package's command module. Commands that need the app use `portal.core.cli.with_app`: the group
puts a ScriptInfo on the click context that builds the app from the environment.
"""

from __future__ import annotations

import importlib

import click
from flask import Flask
from flask.cli import ScriptInfo

from portal.config import ConfigError

# name -> "module:attribute" of a click command or group, loaded when it is asked for
PACKAGE_COMMANDS = {
    "db": "portal.core.cli:db_group",
    "users": "portal.accounts.cli:users",
    "demo": "portal.demo:demo",
    "video": "portal.video.cli:video",
    "run": "portal.ops.cli:run",
    "worker": "portal.ops.cli:worker",
    "cron": "portal.ops.cron:cron_command",
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
