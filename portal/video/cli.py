"""`portal video check`: does the configured provider answer, with these credentials and presets?"""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from portal.video.port import ProviderError


@click.group(help="The video provider.")
def video() -> None:
    pass


def check_provider(settings, echo: Callable[[str], None]) -> bool:
    """Confirm the API token works (GET presets) and the configured presets exist. Says plainly what is wrong."""
    if settings.VIDEO_PROVIDER != "cloudflare":
        echo(f"video provider: {settings.VIDEO_PROVIDER} (development rooms, no credentials to check)")
        return True
    from portal.video.cloudflare import CloudflareProvider

    provider = CloudflareProvider.from_settings(settings)
    provider.client.max_retries = min(provider.client.max_retries, 1)
    echo(f"video provider: cloudflare, account {settings.CLOUDFLARE_ACCOUNT_ID}, app {settings.CLOUDFLARE_APP_ID}")
    try:
        presets = provider.client.list_presets()
    except ProviderError as exc:
        provider.client.http.close()
        if exc.status in (401, 403):
            echo(
                f"FAIL: the API token was refused (HTTP {exc.status}). Check PORTAL_CLOUDFLARE_API_TOKEN: it needs "
                "the Realtime (or Realtime Admin) permission for this account."
            )
        elif exc.status == 404:
            echo(
                "FAIL: the account or app was not found (HTTP 404). Check PORTAL_CLOUDFLARE_ACCOUNT_ID and "
                "PORTAL_CLOUDFLARE_APP_ID."
            )
        else:
            echo(f"FAIL: RealtimeKit could not be reached: {exc}")
        return False
    provider.client.http.close()
    names = {p.get("name") for p in presets}
    echo(f"OK: the API token works; the app has {len(presets)} preset(s).")
    ok = True
    for setting in ("CLOUDFLARE_HOST_PRESET", "CLOUDFLARE_LEARNER_PRESET"):
        name = getattr(settings, setting)
        if name in names:
            echo(f"OK: preset {name!r} (PORTAL_{setting}) exists.")
        else:
            ok = False
            echo(
                f"FAIL: preset {name!r} (PORTAL_{setting}) does not exist in the app; "
                f"it has: {', '.join(sorted(n for n in names if n)) or 'none'}."
            )
    return _check_webhook_key(settings, echo) and ok


def _check_webhook_key(settings, echo: Callable[[str], None]) -> bool:
    from portal.video.webhooks import KeyUnavailable, WebhookKeys

    try:
        WebhookKeys(settings.CLOUDFLARE_WEBHOOK_KEY_URL, timeout=settings.VIDEO_TIMEOUT_SECONDS).current()
    except KeyUnavailable as exc:
        echo(f"FAIL: {exc} (PORTAL_CLOUDFLARE_WEBHOOK_KEY_URL); webhooks cannot be verified.")
        return False
    echo(f"OK: the webhook signing key at {settings.CLOUDFLARE_WEBHOOK_KEY_URL} is readable.")
    return True


WEBHOOK_EVENTS = [
    "meeting.started",
    "meeting.ended",
    "meeting.participantJoined",
    "meeting.participantLeft",
    "recording.statusUpdate",
]


@video.command("register-webhook", help="Have RealtimeKit send its events to this portal (safe to run again).")
@click.option("--url", default=None, help="Default: PORTAL_BASE_URL + /webhooks/cloudflare.")
def register_webhook(url: str | None) -> None:
    from portal.cli import with_app
    from portal.config import current_settings

    @with_app
    def run() -> bool:
        settings = current_settings()
        if settings.VIDEO_PROVIDER != "cloudflare":
            click.echo("FAIL: PORTAL_VIDEO_PROVIDER is not cloudflare: there is nothing to register.")
            return False
        from portal.video.cloudflare import CloudflareProvider

        target = url or f"{settings.BASE_URL.rstrip('/')}/webhooks/cloudflare"
        client = CloudflareProvider.from_settings(settings).client
        try:
            outcome, hook = client.register_webhook(name="Training Portal", url=target, events=WEBHOOK_EVENTS)
        except ProviderError as exc:
            click.echo(f"FAIL: {exc}")
            return False
        finally:
            client.http.close()
        click.echo(
            f"{outcome}: webhook {hook.get('id')} posts {', '.join(sorted(hook.get('events') or []))} to {target}"
        )
        return True

    if not run():
        sys.exit(1)


@video.command("check", help="Check the provider's credentials and presets (exit code 1 if anything is wrong).")
def check() -> None:
    from portal.cli import with_app
    from portal.config import current_settings

    @with_app
    def run() -> bool:
        return check_provider(current_settings(), click.echo)

    if not run():
        sys.exit(1)
