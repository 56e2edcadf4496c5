"""RealtimeKit webhooks: signature verification, deduplication, storage, and applying the events.

Verification is RSA-SHA256 (PKCS#1 v1.5) over the exact received bytes, with the public key RealtimeKit
publishes (CLOUDFLARE_WEBHOOK_KEY_URL). The key is cached and fetched again once when a signature fails
(at most once a minute, so forged requests cannot make the portal hammer the key URL). Only verified
deliveries are stored: a forged one must never occupy the delivery id of a genuine one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from portal.core.clock import now_utc
from portal.core.errors import BadRequest, DomainError, ServiceUnavailable
from portal.core.signals import answers
from portal.extensions import db
from portal.video import signals
from portal.video.cloudflare import parse_time
from portal.video.models import RecordingStatus, WebhookDelivery

log = logging.getLogger(__name__)

PROVIDER = "cloudflare"
KEY_REFETCH_INTERVAL = timedelta(seconds=60)
_WEBHOOK_RECORDING_STATUSES = {
    "INVOKED": "recording",
    "RECORDING": "recording",
    "PAUSED": "recording",
    "UPLOADING": "uploading",
    "UPLOADED": "ready",
    "ERRORED": "failed",
}


class KeyUnavailable(Exception):
    """The public key could not be fetched or read; the delivery is refused with 503 so it is retried."""


class WebhookKeys:
    """The provider's public key, fetched from `url` and cached; refetched at most once a minute."""

    def __init__(self, url: str, *, timeout: float):
        self.url = url
        self.timeout = timeout
        self._key: rsa.RSAPublicKey | None = None
        self._fetched_at: datetime | None = None
        self._lock = threading.Lock()

    def current(self) -> rsa.RSAPublicKey:
        with self._lock:
            if self._key is None:
                self._fetch()
            assert self._key is not None
            return self._key

    def refetch(self) -> rsa.RSAPublicKey | None:
        """A fresh key after a failed check, or None when the cached one was fetched too recently."""
        with self._lock:
            if self._fetched_at and now_utc() - self._fetched_at < KEY_REFETCH_INTERVAL:
                return None
            self._fetch()
            return self._key

    def _fetch(self) -> None:
        try:
            response = requests.get(self.url, timeout=self.timeout, headers={"Accept": "application/json"})
            response.raise_for_status()
            pem = response.json()["data"]["publicKey"]
            key = serialization.load_pem_public_key(pem.encode())
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            raise KeyUnavailable(f"the webhook key at {self.url} could not be read: {exc}") from exc
        if not isinstance(key, rsa.RSAPublicKey):
            raise KeyUnavailable(f"the webhook key at {self.url} is not an RSA key")
        self._key, self._fetched_at = key, now_utc()


def keys_for(app_extensions: dict[str, Any], settings) -> WebhookKeys:
    keys = app_extensions.get("portal.video.webhook_keys")
    if keys is None or keys.url != settings.CLOUDFLARE_WEBHOOK_KEY_URL:
        keys = WebhookKeys(settings.CLOUDFLARE_WEBHOOK_KEY_URL, timeout=settings.VIDEO_TIMEOUT_SECONDS)
        app_extensions["portal.video.webhook_keys"] = keys
    return keys


def _signature_valid(key: rsa.RSAPublicKey, raw_body: bytes, signature: bytes) -> bool:
    try:
        key.verify(signature, raw_body, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def verify_signature(keys: WebhookKeys, raw_body: bytes, signature_header: str) -> bool:
    """True if `signature_header` (base64) signs exactly `raw_body`. Raises KeyUnavailable if no key can be had."""
    try:
        signature = base64.b64decode(signature_header.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    if _signature_valid(keys.current(), raw_body, signature):
        return True
    fresh = keys.refetch()
    return fresh is not None and _signature_valid(fresh, raw_body, signature)


# --------------------------------------------------------------------------------------------- receiving
@dataclass(frozen=True)
class Receipt:
    duplicate: bool
    event: str | None
    outcome: str


def receive(raw_body: bytes, *, delivery_id: str | None, webhook_id: str | None) -> Receipt:
    """Store a verified delivery once and apply it. Flushes; the caller commits. Raises BadRequest for a body that
    is not a JSON event, ServiceUnavailable when applying needs the provider and it is down (so it is retried)."""
    try:
        payload = json.loads(raw_body)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("The webhook body is not JSON.", code="invalid_webhook") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
        raise BadRequest("The webhook body names no event.", code="invalid_webhook")
    body_sha256 = hashlib.sha256(raw_body).hexdigest()
    delivery_id = (delivery_id or "").strip()[:100] or f"sha256:{body_sha256}"
    webhook_id = (webhook_id or "").strip()[:100] or None
    event = payload["event"][:60]
    if _already_received(delivery_id, webhook_id, body_sha256):
        return Receipt(True, event, "duplicate")
    delivery = WebhookDelivery(
        provider=PROVIDER,
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
    try:
        with db.session.begin_nested():
            outcome = apply_event(payload)
    except ServiceUnavailable:
        raise
    except DomainError as exc:
        outcome = f"not applied: {exc.message}"
    delivery.outcome = outcome[:200]
    delivery.processed_at = now_utc()
    db.session.flush()
    log.info("webhook %s %s: %s", event, delivery_id, outcome)
    return Receipt(False, event, outcome)


def _already_received(delivery_id: str, webhook_id: str | None, body_sha256: str) -> bool:
    same_body = WebhookDelivery.body_sha256 == body_sha256
    if webhook_id is not None:
        same_body = same_body & (WebhookDelivery.webhook_id == webhook_id)
    return (
        db.session.scalar(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.provider == PROVIDER, or_(WebhookDelivery.delivery_id == delivery_id, same_body))
            .limit(1)
        )
        is not None
    )


# --------------------------------------------------------------------------------------------- applying
def apply_event(payload: dict[str, Any]) -> str:
    """Apply one event; returns what happened, in words, for the delivery's `outcome`."""
    event = payload["event"]
    handler = _HANDLERS.get(event)
    if handler is None:
        return f"stored: {event} is not used by the portal"
    return handler(payload)


def _meeting_id(payload: dict[str, Any]) -> str | None:
    meeting = payload.get("meeting")
    if isinstance(meeting, dict) and meeting.get("id"):
        return str(meeting["id"])
    recording = payload.get("recording")
    if isinstance(recording, dict) and recording.get("meetingId"):
        return str(recording["meetingId"])
    return str(payload["meetingId"]) if payload.get("meetingId") else None


def _outcome(results: list, nobody: str) -> str:
    """What the receivers of a signal did, in words; `nobody` when no receiver knew the room."""
    said = answers(results)
    return "; ".join(said) if said else nobody


def _on_meeting_started(payload: dict[str, Any]) -> str:
    return f"meeting {_meeting_id(payload)} started"


def _on_meeting_ended(payload: dict[str, Any]) -> str:
    room_id = _meeting_id(payload)
    if not room_id:
        return "no session has this meeting"
    results = signals.meeting_ended.send(room_id, reason=payload.get("reason"))
    return _outcome(results, "no session has this meeting")


def _participant(payload: dict[str, Any]) -> tuple[str | None, int | None, dict[str, Any]]:
    participant = payload.get("participant") if isinstance(payload.get("participant"), dict) else {}
    custom_id = str(participant.get("customParticipantId") or "")
    return _meeting_id(payload), int(custom_id) if custom_id.isdigit() else None, participant


def _on_participant_joined(payload: dict[str, Any]) -> str:
    room_id, user_id, participant = _participant(payload)
    if room_id is None or user_id is None:
        return "unknown session or participant"
    at = parse_time(participant.get("joinedAt")) or now_utc()
    return _outcome(signals.participant_joined.send(room_id, user_id=user_id, at=at), "unknown session or participant")


def _on_participant_left(payload: dict[str, Any]) -> str:
    room_id, user_id, participant = _participant(payload)
    if room_id is None or user_id is None:
        return "unknown session or participant"
    at = parse_time(participant.get("leftAt")) or now_utc()
    return _outcome(signals.participant_left.send(room_id, user_id=user_id, at=at), "unknown session or participant")


def _on_recording_status(payload: dict[str, Any]) -> str:
    recording = payload.get("recording") if isinstance(payload.get("recording"), dict) else {}
    recording_id = str(recording.get("id") or recording.get("recordingId") or "")
    status = _WEBHOOK_RECORDING_STATUSES.get(str(recording.get("status") or "").upper())
    if not recording_id or status is None:
        return f"unreadable recording update ({recording.get('status')!r})"
    url = recording.get("downloadUrl") if status == RecordingStatus.READY.value else None
    if url and not (isinstance(url, str) and url.startswith(("https://", "http://"))):
        url = None  # only a web link is ever rendered as one
    results = signals.recording_updated.send(
        _meeting_id(payload),
        recording_id=recording_id,
        status=status,
        url=url,
        expires_at=parse_time(recording.get("downloadUrlExpiry")) if url else None,
    )
    return _outcome(results, "no session records this recording")


_HANDLERS = {
    "meeting.started": _on_meeting_started,
    "meeting.ended": _on_meeting_ended,
    "meeting.participantJoined": _on_participant_joined,
    "meeting.participantLeft": _on_participant_left,
    "recording.statusUpdate": _on_recording_status,
}
