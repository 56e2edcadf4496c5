"""The `cloudflare` provider: Cloudflare RealtimeKit meetings (see shared/reference/cloudflare-realtimekit.md).

client.py speaks RealtimeKit's HTTP API; provider.py maps the portal's VideoProvider port onto it; room.py is the
room page's pinned UI Kit and CSP; signatures.py and webhooks.py verify, store and apply its webhooks; check.py
is its `portal video check`. Its settings block is PORTAL_CLOUDFLARE_* (portal/config.py).
"""

from __future__ import annotations

from portal.video.cloudflare import check, room, webhooks
from portal.video.cloudflare.provider import CloudflareProvider
from portal.video.port import ProviderKind, ProviderWebhooks
from portal.video.registry import register

register(
    ProviderKind(
        name=CloudflareProvider.name,
        build=CloudflareProvider.from_settings,
        room_template="video/_room_cloudflare.html",
        check=check.check,
        room_csp=room.room_csp(),
        room_assets=room.ROOM_ASSETS,
        webhooks=ProviderWebhooks(receive=webhooks.receive, subscribe=webhooks.subscribe),
    )
)
