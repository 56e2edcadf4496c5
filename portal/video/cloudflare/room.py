"""The `cloudflare` room page: RealtimeKit's UI Kit, pinned, and the Content-Security-Policy that lets it run."""

from __future__ import annotations

# The UI Kit and the core SDK, pinned (`npm view @cloudflare/realtimekit-ui version`, 2026-11-24).
RTK_UI_VERSION = "2.0.2"
RTK_CORE_VERSION = "2.0.2"
RTK_UI_LOADER_URL = f"https://cdn.jsdelivr.net/npm/@cloudflare/realtimekit-ui@{RTK_UI_VERSION}/loader/index.es2017.js"
RTK_CORE_URL = f"https://cdn.jsdelivr.net/npm/@cloudflare/realtimekit@{RTK_CORE_VERSION}/dist/browser.js"
# sha384 of dist/browser.js in the npm tarball of @cloudflare/realtimekit@2.0.2 (jsDelivr serves that file as is).
RTK_CORE_INTEGRITY = "sha384-lFXT0ldxi5sQ1wA86msP3ur5BxzZf9dyFkjT3PG884u6bf48UXXJPJl0QOL07TpO"

# What templates/video/_room_cloudflare.html reads as `provider.room_assets`.
ROOM_ASSETS = {"ui_loader_url": RTK_UI_LOADER_URL, "core_url": RTK_CORE_URL, "core_integrity": RTK_CORE_INTEGRITY}

CDN = "https://cdn.jsdelivr.net"
# The network allowlist of RealtimeKit (reference §5); STUN/TURN are not governed by CSP.
REALTIME_HOSTS = (
    "api.realtime.cloudflare.com",
    "socket-edge.realtime.cloudflare.com",
    "api-silos.realtime.cloudflare.com",
    "da-collector.realtime.cloudflare.com",
    "location.realtime.cloudflare.com",
    "r2.cloudflarestorage.com",
)
UI_KIT_HOSTS = ("rtk-assets.realtime.cloudflare.com", "rtk-uploads.realtime.cloudflare.com")


def _https(hosts) -> str:
    return " ".join(f"https://{host}" for host in hosts)


def room_csp() -> str:
    """The Content-Security-Policy of a RealtimeKit room page: 'self' plus exactly the hosts RealtimeKit needs."""
    realtime = _https(REALTIME_HOSTS)
    sockets = " ".join(f"wss://{host}" for host in REALTIME_HOSTS)
    assets = _https(UI_KIT_HOSTS)
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {CDN}",
            f"style-src 'self' {CDN} {assets}",
            f"connect-src 'self' {CDN} {realtime} {sockets} {assets}",
            f"img-src 'self' data: blob: {assets} {realtime}",
            f"font-src 'self' data: {CDN} {assets}",
            f"media-src 'self' blob: mediastream: {assets}",
            "worker-src 'self' blob:",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "form-action 'self'",
        ]
    )
