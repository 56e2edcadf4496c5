"""`portal video ...`: the configured provider's own check, and its webhook registration."""

from __future__ import annotations

import sys

import click

from portal.config import current_settings
from portal.core.cli import with_app
from portal.video import registry


@click.group(help="The video provider.")
def video() -> None:
    pass


@video.command("check", help="Check the provider's credentials and presets (exit code 1 if anything is wrong).")
@with_app
def check() -> None:
    settings = current_settings()
    if not registry.kind_named(settings.VIDEO_PROVIDER).check(settings, click.echo):
        sys.exit(1)


@video.command("register-webhook", help="Have the provider send its events to this portal (safe to run again).")
@click.option("--url", default=None, help="Default: PORTAL_BASE_URL + /webhooks/<PORTAL_VIDEO_PROVIDER>.")
@with_app
def register_webhook(url: str | None) -> None:
    settings = current_settings()
    kind = registry.kind_named(settings.VIDEO_PROVIDER)
    if kind.webhooks is None:
        click.echo(
            f"FAIL: the {kind.name} video provider (PORTAL_VIDEO_PROVIDER) sends no webhooks: "
            "there is nothing to register."
        )
        sys.exit(1)
    target = url or f"{settings.BASE_URL.rstrip('/')}/webhooks/{kind.name}"
    if not kind.webhooks.subscribe(settings, target, click.echo):
        sys.exit(1)
