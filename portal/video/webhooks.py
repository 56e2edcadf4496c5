"""What every provider's webhooks share: a verified delivery is read, stored once and applied once, and answered
alike.

A provider's `receive` (port.ProviderWebhooks) verifies the delivery its own way, reads it (`read_event`, then its
own checks of the fields it uses), and hands it to `receive` here. Only verified deliveries are stored: a forged
one must never occupy the key of a genuine one.

The key of a delivery is what its signature covers: the body. A signed body is one delivery whatever unsigned
headers come with it (a provider's delivery id or webhook id can be replaced by anyone who captured the request),
so deliveries are deduplicated by the body's SHA-256 alone. A delivery whose event happened more than
MAX_DELIVERY_AGE ago is refused before it is stored, so a captured one cannot be replayed later; the provider
says when its event happened (a signed timestamp if it sends one, else the event's own time in the signed body).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from portal.core.clock import now_utc
from portal.core.db import upsert_insert
from portal.core.errors import BadRequest, DomainError, ServiceUnavailable
from portal.core.validation import parse_json
from portal.extensions import db
from portal.video.models import WebhookDelivery
from portal.video.port import WebhookAnswer

log = logging.getLogger(__name__)

Apply = Callable[[dict[str, Any]], str]  # applies one event; returns what happened, in words

MAX_DELIVERY_AGE = timedelta(minutes=5)
# Clocks disagree a little; an event dated further ahead than this is not a time the provider can mean (and year
# 9999 would overflow the arithmetic done with it).
MAX_CLOCK_AHEAD = timedelta(days=1)


@dataclass(frozen=True)
class Receipt:
    duplicate: bool
    event: str | None
    outcome: str


# --------------------------------------------------------------------------------------------- reading
def read_event(raw_body: bytes) -> dict[str, Any]:
    """The verified body as a JSON event: an object whose `event` is a string. Raises BadRequest
    (code invalid_webhook) for anything else, and for what no database column can hold (core.validation.parse_json:
    deep nesting, a NUL or a lone surrogate, a number beyond 64 bits, NaN or infinity)."""
    payload, problem = parse_json(raw_body)
    if problem:
        raise _unreadable(
            "The webhook body is not JSON." if problem == "is not valid JSON" else f"The webhook body {problem}."
        )
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
        raise _unreadable("The webhook body names no event.")
    return payload


def _unreadable(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_webhook")


def too_old(occurred_at: datetime | None, now: datetime) -> bool:
    """A delivery whose event happened more than MAX_DELIVERY_AGE before `now` is refused; one that says no
    time cannot be judged by age (its body's hash still keeps it from being applied twice)."""
    return occurred_at is not None and now - occurred_at > MAX_DELIVERY_AGE


def implausibly_ahead(occurred_at: datetime | None, now: datetime) -> bool:
    return occurred_at is not None and occurred_at - now > MAX_CLOCK_AHEAD


# --------------------------------------------------------------------------------------------- storing
def receive(
    provider: str,
    raw_body: bytes,
    payload: dict[str, Any],
    *,
    occurred_at: datetime | None,
    delivery_id: str | None,
    webhook_id: str | None,
    apply: Apply,
) -> Receipt:
    """Store a verified delivery once and `apply` it. Flushes; the request commits.

    `payload` is `raw_body` as read by read_event; `occurred_at` is when its event happened, by what the signature
    covers (None: the body does not say). `delivery_id` and `webhook_id` are the provider's unsigned headers: kept
    for the record, never a key. A body received before is a duplicate (answered, not applied again) whatever
    its age; a new one whose event is older than MAX_DELIVERY_AGE raises BadRequest (code webhook_too_old), one
    dated more than MAX_CLOCK_AHEAD ahead raises BadRequest (code invalid_webhook); neither is stored. Raises
    ServiceUnavailable when applying needs the provider and it is down (so it is retried); any other DomainError
    from `apply` is kept as the delivery's outcome."""
    body_sha256 = hashlib.sha256(raw_body).hexdigest()
    event = payload["event"][:60]
    if _already_received(provider, body_sha256):
        return Receipt(True, event, "duplicate")
    _refuse_out_of_time(provider, event, occurred_at, now_utc())
    delivery = _store_once(provider, body_sha256, event, payload, webhook_id)
    if delivery is None:
        return Receipt(True, event, "duplicate")  # the same body, stored a moment ago by a parallel request
    outcome = _apply_once(apply, payload)
    delivery.outcome = outcome[:200]
    delivery.processed_at = now_utc()
    db.session.flush()
    log.info("webhook %s %s (delivery %s): %s", provider, event, _header_text(delivery_id) or "-", outcome)
    return Receipt(False, event, outcome)


def _store_once(
    provider: str, body_sha256: str, event: str, payload: dict[str, Any], webhook_id: str | None
) -> WebhookDelivery | None:
    """The new delivery's row, or None when a parallel request stored the same body first. One INSERT .. ON
    CONFLICT DO NOTHING: no savepoint, whose release on SQLite would commit the row before the request decides
    (a delivery that then fails must leave nothing behind, so the provider's retry is applied)."""
    stored_id = db.session.scalar(
        upsert_insert(WebhookDelivery, db.session)
        .values(
            provider=provider,
            delivery_id=f"sha256:{body_sha256}",
            webhook_id=_header_text(webhook_id),
            event=event,
            body_sha256=body_sha256,
            payload=payload,
            received_at=now_utc(),
        )
        .on_conflict_do_nothing(index_elements=["provider", "delivery_id"])
        .returning(WebhookDelivery.id)
    )
    return db.session.get(WebhookDelivery, stored_id) if stored_id is not None else None


def _refuse_out_of_time(provider: str, event: str, occurred_at: datetime | None, now: datetime) -> None:
    if occurred_at is None:
        return
    if too_old(occurred_at, now):
        log.warning("webhook %s %s refused: its event happened at %s", provider, event, occurred_at.isoformat())
        raise BadRequest(
            f"The event happened at {occurred_at.isoformat()}, more than "
            f"{MAX_DELIVERY_AGE.total_seconds() / 60:g} minutes ago: a delivery this old is refused.",
            code="webhook_too_old",
        )
    if implausibly_ahead(occurred_at, now):
        raise BadRequest(
            f"The event is dated {occurred_at.isoformat()}, more than a day ahead of the portal's clock.",
            code="invalid_webhook",
        )


def _header_text(value: str | None) -> str | None:
    """An unsigned header kept for the record: printable ASCII, at most 100 characters, else nothing."""
    value = (value or "").strip()[:100]
    return value if value and value.isascii() and value.isprintable() else None


def _apply_once(apply: Apply, payload: dict[str, Any]) -> str:
    try:
        with db.session.begin_nested():
            return apply(payload)
    except ServiceUnavailable:
        raise
    except DomainError as exc:
        return f"not applied: {exc.message}"


def _already_received(provider: str, body_sha256: str) -> bool:
    # By the body's hash, not by the delivery key: rows stored before the key was the hash carry the provider's
    # delivery id there, and their body hash still identifies them.
    return (
        db.session.scalar(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.provider == provider, WebhookDelivery.body_sha256 == body_sha256)
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
