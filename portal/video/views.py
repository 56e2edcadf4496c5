"""Video at the edge: each provider's webhook route, the provider of a room partial, and the headers every room
page needs (`room_headers`). What differs between providers comes from their registered ProviderKind."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from portal.core.errors import DomainError
from portal.core.web import csrf_exempt, no_store
from portal.video import registry, webhooks
from portal.video.port import JoinGrant, ProviderKind, WebhookAnswer

bp = Blueprint("video", __name__)


def room_headers(response: Response, grant: JoinGrant | None) -> Response:
    """Headers for a page that carries a participant token: never stored by any cache; the provider's CSP."""
    response = no_store(response, private=True)
    response.headers["Pragma"] = "no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    csp = registry.kind_named(grant.provider).room_csp if grant is not None else None
    if csp is not None:
        response.headers["Content-Security-Policy"] = csp
    return response


@bp.app_context_processor
def room_provider():
    """`video_provider(grant)`: the kind of provider that issued `grant`; templates/video/_room.html renders its
    room partial."""

    def video_provider(grant: JoinGrant) -> ProviderKind:
        return registry.kind_named(grant.provider)

    return {"video_provider": video_provider}


@bp.post("/webhooks/<provider>")
@csrf_exempt
def provider_webhook(provider: str):
    """A provider's delivery, answered by the provider's own `receive`; 404 for a provider that sends none.
    The request commits what it stored (portal.core.web.commit_request_work) when the answer is a success."""
    kind = registry.find(provider)
    if kind is None or kind.webhooks is None:
        return _json(webhooks.error_answer(404, "not_found", "This portal takes no webhooks from that provider."))
    try:
        answer = kind.webhooks.receive(request.get_data(cache=False), request.headers)
    except DomainError as exc:  # answered as JSON: the caller is the provider, not a browser
        answer = webhooks.error_answer(exc.status, exc.code, exc.message)
    return _json(answer)


# The webhook's caller is a provider, not a browser: whatever goes wrong (a body over the size cap, a fault of
# ours) is answered as JSON too, never as the portal's HTML error page. A 5xx tells the provider to retry.
@bp.errorhandler(HTTPException)
def webhook_http_error(exc: HTTPException):
    status = exc.code or 500
    return _json(webhooks.error_answer(status, exc.name.lower().replace(" ", "_"), exc.description or exc.name))


@bp.errorhandler(Exception)
def webhook_fault(exc: Exception):
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return _json(webhooks.error_answer(500, "internal_error", "Something went wrong on our side. It has been logged."))


def _json(answer: WebhookAnswer):
    return jsonify(answer.body), answer.status
