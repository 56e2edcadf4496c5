"""Video rooms: the provider port, the local and Cloudflare RealtimeKit providers, and provider webhooks."""

from __future__ import annotations


def get_provider():
    """The configured provider (PORTAL_VIDEO_PROVIDER)."""
    from flask import current_app

    from portal.config import current_settings

    ext = current_app.extensions
    if "portal.video" not in ext:
        if current_settings().VIDEO_PROVIDER == "cloudflare":
            from portal.video.cloudflare import CloudflareProvider

            ext["portal.video"] = CloudflareProvider.from_settings(current_settings())
        else:
            from portal.video.local import LocalProvider

            ext["portal.video"] = LocalProvider()
    return ext["portal.video"]


def init_video(app) -> None:
    """Provisional (the provider registry replaces it)."""
