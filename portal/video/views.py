"""Video at the edge: each provider's webhook route, the provider of a room partial, and the headers every room
page needs (`room_headers`). What differs between providers comes from their registered ProviderKind."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

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


def _json(answer: WebhookAnswer):
    return jsonify(answer.body), answer.status
