"""The `cloudflare` room page: RealtimeKit's UI Kit and core SDK, vendored at a pinned version and served by the
portal itself with Subresource Integrity, and the Content-Security-Policy that lets exactly them run.

The two files are the packages' self-contained browser bundles (static/vendor/realtimekit-2.0.2/README.md says
where they come from and how to re-vendor): `@cloudflare/realtimekit` dist/browser.js (the `./inlined` export,
global `RealtimeKitClient`) and `@cloudflare/realtimekit-ui` dist/browser.js (global `RtkUiKit`, every component
compiled in, so the UI Kit lazy-loads no chunks). Neither uses eval or `new Function`: the CSP has no
'unsafe-eval'. Their sha384 digests are computed once, at import, from the files the portal serves.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

# The UI Kit and the core SDK, pinned (`npm view @cloudflare/realtimekit-ui version`, 2026-11-24).
RTK_UI_VERSION = "2.0.2"
RTK_CORE_VERSION = "2.0.2"
STATIC_ROOT = Path(__file__).resolve().parents[3] / "static"
VENDOR_DIR = f"vendor/realtimekit-{RTK_UI_VERSION}"
RTK_CORE_PATH = f"{VENDOR_DIR}/realtimekit/browser.js"  # relative to static/
RTK_UI_PATH = f"{VENDOR_DIR}/realtimekit-ui/browser.js"
# sha384 of dist/browser.js in the npm tarball of @cloudflare/realtimekit@2.0.2, as published (a changed vendored
# file fails the import below rather than serving something else under the pinned name).
RTK_CORE_INTEGRITY_PINNED = "sha384-lFXT0ldxi5sQ1wA86msP3ur5BxzZf9dyFkjT3PG884u6bf48UXXJPJl0QOL07TpO"


def integrity_of(static_path: str) -> str:
    """The SRI value (sha384, base64) of a file under static/."""
    digest = hashlib.sha384((STATIC_ROOT / static_path).read_bytes()).digest()
    return "sha384-" + base64.b64encode(digest).decode()


RTK_CORE_INTEGRITY = integrity_of(RTK_CORE_PATH)
RTK_UI_INTEGRITY = integrity_of(RTK_UI_PATH)
if RTK_CORE_INTEGRITY != RTK_CORE_INTEGRITY_PINNED:
    raise RuntimeError(f"{RTK_CORE_PATH} is not the published @cloudflare/realtimekit@{RTK_CORE_VERSION} bundle")

# What templates/video/_room_cloudflare.html reads as `provider.room_assets` (paths under static/, for url_for).
ROOM_ASSETS = {
    "core_path": RTK_CORE_PATH,
    "core_integrity": RTK_CORE_INTEGRITY,
    "ui_path": RTK_UI_PATH,
    "ui_integrity": RTK_UI_INTEGRITY,
}

# The SDK's hosts (reference §5, and the bundle: `api.`, `socket-edge.`, `api-silos.`, `da-collector.`,
# `location.` + realtime.cloudflare.com); STUN/TURN are not governed by CSP.
REALTIME_HOSTS = (
    "api.realtime.cloudflare.com",
    "socket-edge.realtime.cloudflare.com",
    "api-silos.realtime.cloudflare.com",
    "da-collector.realtime.cloudflare.com",
    "location.realtime.cloudflare.com",
    "r2.cloudflarestorage.com",
)
# What the UI Kit fetches at run time: its emoji list, permission help images and sounds (rtk-assets), and the
# join/message notification sounds and chat uploads (rtk-uploads).
# The one <style> element the UI Kit's Stencil runtime writes into the page (its components' pre-hydration
# `{visibility:hidden}` rule, the same text for every page with this bundle), allowed by its hash instead of
# 'unsafe-inline'. A re-vendored UI Kit changes it: the browser test (tests/e2e/test_room_rtk.py) fails on any
# CSP violation and Chromium's console names the new hash.
UI_KIT_STYLE_HASH = "'sha256-5dj5qCRirgT8h5iama8A2uTEz/uMJJ+Buxg3CYYNQAw='"
UI_KIT_HOSTS = ("rtk-assets.realtime.cloudflare.com", "rtk-uploads.realtime.cloudflare.com")


def _https(hosts) -> str:
    return " ".join(f"https://{host}" for host in hosts)


def room_csp() -> str:
    """The Content-Security-Policy of a RealtimeKit room page: the vendored scripts from 'self', and beyond that
    only the hosts RealtimeKit itself needs (no CDN, no 'unsafe-eval', no 'unsafe-inline').

    The UI Kit styles its shadow roots with constructed stylesheets, which style-src does not govern; its one
    inline <style> is allowed by hash. Google Fonts, which the UI Kit's default design tokens ask for (Inter),
    are left out on purpose: the browser blocks that stylesheet and the kit's fallback font stack is used."""
    realtime = _https(REALTIME_HOSTS)
    sockets = " ".join(f"wss://{host}" for host in REALTIME_HOSTS)
    assets = _https(UI_KIT_HOSTS)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            f"style-src 'self' {UI_KIT_STYLE_HASH}",
            f"connect-src 'self' {realtime} {sockets} {assets}",
            f"img-src 'self' data: blob: {assets} {realtime}",
            "font-src 'self' data:",
            f"media-src 'self' blob: mediastream: {assets}",
            "worker-src 'self' blob:",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "form-action 'self'",
        ]
    )
