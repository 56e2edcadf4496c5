"""Video at the edge: the provider's webhook, the development room's presence partial, and the headers every
room page needs (`room_headers`)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from portal.config import current_settings
from portal.core.errors import DomainError
from portal.core.web import csrf_exempt, no_store
from portal.extensions import db
from portal.video import webhooks

bp = Blueprint("video", __name__)

# The UI Kit and the core SDK, pinned (`npm view @cloudflare/realtimekit-ui version`, 2026-11-24).
RTK_UI_VERSION = "2.0.2"
RTK_CORE_VERSION = "2.0.2"
RTK_UI_LOADER_URL = f"https://cdn.jsdelivr.net/npm/@cloudflare/realtimekit-ui@{RTK_UI_VERSION}/loader/index.es2017.js"
RTK_CORE_URL = f"https://cdn.jsdelivr.net/npm/@cloudflare/realtimekit@{RTK_CORE_VERSION}/dist/browser.js"
# sha384 of dist/browser.js in the npm tarball of @cloudflare/realtimekit@2.0.2 (jsDelivr serves that file as is).
RTK_CORE_INTEGRITY = "sha384-lFXT0ldxi5sQ1wA86msP3ur5BxzZf9dyFkjT3PG884u6bf48UXXJPJl0QOL07TpO"

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


def cloudflare_csp() -> str:
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


def room_headers(response: Response, grant) -> Response:
    """Headers for a page that carries a participant token: never stored by any cache; the provider's CSP."""
    response = no_store(response, private=True)
    response.headers["Pragma"] = "no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    if grant is not None and grant.provider == "cloudflare":
        response.headers["Content-Security-Policy"] = cloudflare_csp()
    return response


@bp.app_context_processor
def realtimekit_assets():
    return {
        "rtk_ui_loader_url": RTK_UI_LOADER_URL,
        "rtk_core_url": RTK_CORE_URL,
        "rtk_core_integrity": RTK_CORE_INTEGRITY,
    }


# --------------------------------------------------------------------------------------------- webhook
def _answer(status: int, code: str, message: str):
    return jsonify({"error": {"code": code, "message": message}}), status


@bp.post("/webhooks/cloudflare")
@csrf_exempt
def cloudflare_webhook():
    """RealtimeKit deliveries: verified over the raw body, deduplicated, stored, applied; answered at once."""
    raw = request.get_data(cache=False)
    signature = request.headers.get("rtk-signature")
    if not signature:
        return _answer(400, "signature_missing", "The rtk-signature header is missing.")
    keys = webhooks.keys_for(current_app.extensions, current_settings())
    try:
        verified = webhooks.verify_signature(keys, raw, signature)
    except webhooks.KeyUnavailable as exc:
        current_app.logger.warning("webhook refused: %s", exc)
        return _answer(503, "key_unavailable", "The signing key could not be fetched; retry later.")
    if not verified:
        current_app.logger.warning(
            "webhook with a bad signature refused (rtk-uuid %s)", request.headers.get("rtk-uuid", "-")[:100]
        )
        return _answer(401, "signature_invalid", "The signature does not match the body.")
    try:
        receipt = webhooks.receive(
            raw, delivery_id=request.headers.get("rtk-uuid"), webhook_id=request.headers.get("rtk-webhook-id")
        )
    except DomainError as exc:  # answered as JSON: the caller is the provider, not a browser
        db.session.rollback()
        return _answer(exc.status, exc.code, exc.message)
    db.session.commit()
    return jsonify(
        {"received": True, "duplicate": receipt.duplicate, "event": receipt.event, "outcome": receipt.outcome}
    )
