"""`portal video check` for the `cloudflare` provider: does RealtimeKit answer, with these credentials and
presets, and can webhooks be verified? Says plainly what is wrong."""

from __future__ import annotations

from portal.config import Settings
from portal.video.cloudflare.client import RealtimeKitClient
from portal.video.cloudflare.signatures import KeyUnavailable, WebhookKeys
from portal.video.port import Echo, ProviderError

PRESET_SETTINGS = ("CLOUDFLARE_HOST_PRESET", "CLOUDFLARE_LEARNER_PRESET")


def check(settings: Settings, echo: Echo) -> bool:
    """Confirm the API token works (GET presets), the configured presets exist and the webhook key is readable."""
    echo(f"video provider: cloudflare, account {settings.CLOUDFLARE_ACCOUNT_ID}, app {settings.CLOUDFLARE_APP_ID}")
    client = RealtimeKitClient.from_settings(settings)
    client.max_retries = min(client.max_retries, 1)  # an operator waits for the answer
    try:
        presets = client.list_presets()
    except ProviderError as exc:
        echo(_refusal(exc))
        return False
    finally:
        client.http.close()
    echo(f"OK: the API token works; the app has {len(presets)} preset(s).")
    presets_ok = _check_presets(settings, {p.get("name") for p in presets}, echo)
    return _check_webhook_key(settings, echo) and presets_ok


def _refusal(exc: ProviderError) -> str:
    if exc.status in (401, 403):
        return (
            f"FAIL: the API token was refused (HTTP {exc.status}). Check PORTAL_CLOUDFLARE_API_TOKEN: it needs "
            "the Realtime (or Realtime Admin) permission for this account."
        )
    if exc.status == 404:
        return (
            "FAIL: the account or app was not found (HTTP 404). Check PORTAL_CLOUDFLARE_ACCOUNT_ID and "
            "PORTAL_CLOUDFLARE_APP_ID."
        )
    return f"FAIL: RealtimeKit could not be reached: {exc}"


def _check_presets(settings: Settings, names: set, echo: Echo) -> bool:
    ok = True
    for setting in PRESET_SETTINGS:
        name = getattr(settings, setting)
        if name in names:
            echo(f"OK: preset {name!r} (PORTAL_{setting}) exists.")
        else:
            ok = False
            echo(
                f"FAIL: preset {name!r} (PORTAL_{setting}) does not exist in the app; "
                f"it has: {', '.join(sorted(n for n in names if n)) or 'none'}."
            )
    return ok


def _check_webhook_key(settings: Settings, echo: Echo) -> bool:
    try:
        WebhookKeys(settings.CLOUDFLARE_WEBHOOK_KEY_URL, timeout=settings.VIDEO_TIMEOUT_SECONDS).current()
    except KeyUnavailable as exc:
        echo(f"FAIL: {exc} (PORTAL_CLOUDFLARE_WEBHOOK_KEY_URL); webhooks cannot be verified.")
        return False
    echo(f"OK: the webhook signing key at {settings.CLOUDFLARE_WEBHOOK_KEY_URL} is readable.")
    return True
