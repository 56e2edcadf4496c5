"""The fake's webhooks: it publishes its own RSA-2048 key (served at /.well-known/webhooks.json) and sends
deliveries signed the way RealtimeKit signs them, with RealtimeKit's event payloads. A mixin of FakeRealtimeKit
(it reads the fake's `key`, `meetings`, `recordings`, `app_id`)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.plugins.realtimekit_api import iso, utc_now


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class WebhookSender:
    """Signing, RealtimeKit's event payloads, and `send_webhook`, which delivers one to the portal."""

    def public_pem(self) -> str:
        return (
            self.key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def rotate_key(self) -> None:
        self.key = new_key()

    def sign(self, body: bytes, key: rsa.RSAPrivateKey | None = None) -> str:
        signature = (key or self.key).sign(body, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    def meeting_payload(self, meeting_id: str, *, started_at: datetime | None = None) -> dict[str, Any]:
        meeting = self.meetings.get(meeting_id, {"title": "unknown"})
        return {
            "id": meeting_id,
            "sessionId": f"sess-{meeting_id[:8]}",
            "title": meeting.get("title"),
            "roomName": meeting_id,
            "status": "LIVE",
            "createdAt": meeting.get("created_at"),
            "startedAt": iso(started_at or utc_now()),
            "organizedBy": {"id": self.app_id, "name": "Training Portal"},
        }

    def meeting_event(self, event: str, meeting_id: str, *, at: datetime | None = None, **extra: Any) -> dict[str, Any]:
        """`meeting.started` or `meeting.ended` (with `endedAt`), happening `at` (default now)."""
        at = at or utc_now()
        if event == "meeting.ended":
            meeting = {**self.meeting_payload(meeting_id, started_at=at - timedelta(hours=1)), "endedAt": iso(at)}
        else:
            meeting = self.meeting_payload(meeting_id, started_at=at)
        return {"event": event, "meeting": meeting, **extra}

    def participant_event(
        self, event: str, meeting_id: str, user_id: int | str, *, at: datetime | None = None, name: str = "Someone"
    ) -> dict[str, Any]:
        at = at or utc_now()
        participant = {
            "peerId": uuid.uuid4().hex,
            "userDisplayName": name,
            "customParticipantId": str(user_id),
            "clientSpecificId": str(user_id),
            "joinedAt": iso(at),
        }
        if event.endswith("Left"):
            participant["leftAt"] = iso(at)
        return {"event": event, "meeting": self.meeting_payload(meeting_id), "participant": participant}

    def recording_event(self, recording_id: str, status: str | None = None) -> dict[str, Any]:
        rec = dict(self.recordings[recording_id])
        status = status or rec["status"]
        return {
            "event": "recording.statusUpdate",
            "meeting": self.meeting_payload(rec["meeting_id"]),
            "recording": {
                "id": recording_id,
                "recordingId": recording_id,
                "status": status,
                "downloadUrl": rec.get("download_url") if status == "UPLOADED" else None,
                "audioDownloadUrl": None,
                "downloadUrlExpiry": rec.get("download_url_expiry") if status == "UPLOADED" else None,
                "startedTime": rec.get("started_time"),
                "stoppedTime": rec.get("stopped_time"),
                "fileSize": str(rec.get("file_size") or ""),
                "outputFileName": rec["output_file_name"],
                "meetingId": rec["meeting_id"],
                "recordingDuration": 60,
                "organizationId": self.app_id,
                "roomUUID": rec["meeting_id"],
            },
        }

    def webhook_request(
        self,
        payload: dict[str, Any] | bytes,
        *,
        delivery_id: str | None = None,
        webhook_id: str = "wh-portal",
        signature: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """(body, headers) of a signed delivery; `signature=""` leaves the header out."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "rtk-uuid": delivery_id or str(uuid.uuid4()),
            "rtk-webhook-id": webhook_id,
        }
        sig = self.sign(body, key) if signature is None else signature
        if sig:
            headers["rtk-signature"] = sig
        return body, headers

    def send_webhook(self, target: Any, payload: dict[str, Any] | bytes, **options: Any):
        """Deliver to the portal: `target` is a Flask test client, or the base URL of a running portal.
        Returns the response (Flask's TestResponse or a requests.Response)."""
        body, headers = self.webhook_request(payload, **options)
        if isinstance(target, str):
            return requests.post(f"{target.rstrip('/')}/webhooks/cloudflare", data=body, headers=headers, timeout=10)
        return target.post("/webhooks/cloudflare", data=body, headers=headers)
