"""What every provider's webhooks share: a verified delivery is stored once and applied once, and answered alike.

A provider's `receive` (port.ProviderWebhooks) verifies the delivery its own way, then hands the raw body to
`receive` here. Only verified deliveries are stored: a forged one must never occupy the delivery id of a genuine
one. Deduplication is by the provider's delivery id, or by (webhook id and) the body's hash when the provider
sends the same event again under a new id.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from portal.core.clock import now_utc
from portal.core.errors import BadRequest, DomainError, ServiceUnavailable
from portal.extensions import db
from portal.video.models import WebhookDelivery
from portal.video.port import WebhookAnswer

log = logging.getLogger(__name__)

Apply = Callable[[dict[str, Any]], str]  # applies one event; returns what happened, in words


@dataclass(frozen=True)
class Receipt:
    duplicate: bool
    event: str | None
    outcome: str


def receive(
    provider: str, raw_body: bytes, *, delivery_id: str | None, webhook_id: str | None, apply: Apply
) -> Receipt:
    """Store a verified delivery once and `apply` it. Flushes; the request commits. Raises BadRequest for a body
    that is not a JSON event, ServiceUnavailable when applying needs the provider and it is down (so it is
    retried); any other DomainError from `apply` is kept as the delivery's outcome."""
    payload = _event_payload(raw_body)
    body_sha256 = hashlib.sha256(raw_body).hexdigest()
    delivery_id = (delivery_id or "").strip()[:100] or f"sha256:{body_sha256}"
    webhook_id = (webhook_id or "").strip()[:100] or None
    event = payload["event"][:60]
    if _already_received(provider, delivery_id, webhook_id, body_sha256):
        return Receipt(True, event, "duplicate")
    delivery = WebhookDelivery(
        provider=provider,
        delivery_id=delivery_id,
        webhook_id=webhook_id,
        event=event,
        body_sha256=body_sha256,
        payload=payload,
        received_at=now_utc(),
    )
    try:
        with db.session.begin_nested():
            db.session.add(delivery)
    except IntegrityError:
        return Receipt(True, event, "duplicate")  # the same delivery, stored a moment ago by a parallel request
    outcome = _apply_once(apply, payload)
    delivery.outcome = outcome[:200]
    delivery.processed_at = now_utc()
    db.session.flush()
    log.info("webhook %s %s %s: %s", provider, event, delivery_id, outcome)
    return Receipt(False, event, outcome)


def _event_payload(raw_body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw_body)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("The webhook body is not JSON.", code="invalid_webhook") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
        raise BadRequest("The webhook body names no event.", code="invalid_webhook")
    return payload


def _apply_once(apply: Apply, payload: dict[str, Any]) -> str:
    try:
        with db.session.begin_nested():
            return apply(payload)
    except ServiceUnavailable:
        raise
    except DomainError as exc:
        return f"not applied: {exc.message}"


def _already_received(provider: str, delivery_id: str, webhook_id: str | None, body_sha256: str) -> bool:
    same_body = WebhookDelivery.body_sha256 == body_sha256
    if webhook_id is not None:
        same_body = same_body & (WebhookDelivery.webhook_id == webhook_id)
    return (
        db.session.scalar(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.provider == provider, or_(WebhookDelivery.delivery_id == delivery_id, same_body))
            .limit(1)
        )
        is not None
    )


# --------------------------------------------------------------------------------------------- answers
def receipt_answer(receipt: Receipt) -> WebhookAnswer:
    return WebhookAnswer(
        200,
        {"received": True, "duplicate": receipt.duplicate, "event": receipt.event, "outcome": receipt.outcome},
    )


def error_answer(status: int, code: str, message: str) -> WebhookAnswer:
    """A refusal, as JSON: the caller is the provider, not a browser."""
    return WebhookAnswer(status, {"error": {"code": code, "message": message}})
