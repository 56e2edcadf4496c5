"""Video rooms: the provider port, the registered providers (local, cloudflare), and their webhooks.

A provider is one module (or package) that registers its ProviderKind when imported; the import below is what
makes the portal know it.
"""

from __future__ import annotations

from flask import Flask, current_app

import portal.video.cloudflare
import portal.video.local  # noqa: F401  (each provider registers itself on import)
from portal.config import ConfigError, current_settings
from portal.video import registry
from portal.video.port import VideoProvider


def init_video(app: Flask) -> None:
    """At start: PORTAL_VIDEO_PROVIDER must name a registered provider, else the app does not start."""
    name = app.extensions["portal.settings"].VIDEO_PROVIDER
    if registry.find(name) is None:
        raise ConfigError(
            f"PORTAL_VIDEO_PROVIDER: {name!r} is not a video provider; the registered ones are "
            f"{registry.registered_names()}"
        )


def get_provider() -> VideoProvider:
    """The configured provider (PORTAL_VIDEO_PROVIDER): one object per app, built on first use."""
    extensions = current_app.extensions
    if "portal.video" not in extensions:
        settings = current_settings()
        extensions["portal.video"] = registry.kind_named(settings.VIDEO_PROVIDER).build(settings)
    return extensions["portal.video"]
