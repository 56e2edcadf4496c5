"""RealtimeKit webhooks: a delivery to /webhooks/cloudflare is verified (signatures.py), read (the parts the portal
uses must have RealtimeKit's types), stored once and refused when too old (portal.video.webhooks), and applied by
sending portal.video.signals; `subscribe` registers the portal with RealtimeKit (`portal video register-webhook`).

RealtimeKit signs the raw body and nothing else: no timestamp header, and `rtk-uuid` / `rtk-webhook-id` are not
signed. So a delivery is its body (deduplicated by the body's hash), and its age is the time its event names for
itself in the body (`event_time`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from blinker import NamedSignal
from flask import current_app

from portal.config import Settings, current_settings
from portal.core.clock import now_utc
from portal.core.errors import BadRequest
from portal.core.signals import answers
from portal.video import signals, webhooks
from portal.video.cloudflare.client import RECORDING_STATUSES, RealtimeKitClient, parse_time
from portal.video.cloudflare.signatures import KeyUnavailable, keys_for, verify_signature
from portal.video.models import RecordingStatus
from portal.video.port import Echo, ProviderError, WebhookAnswer

PROVIDER = "cloudflare"
EVENTS = [
    "meeting.started",
    "meeting.ended",
    "meeting.participantJoined",
    "meeting.participantLeft",
    "recording.statusUpdate",
]


def receive(raw_body: bytes, headers: Mapping[str, str]) -> WebhookAnswer:
    """One RealtimeKit delivery: verified over the raw body, deduplicated, stored, applied; answered at once."""
    signature = headers.get("rtk-signature")
    if not signature:
        return webhooks.error_answer(400, "signature_missing", "The rtk-signature header is missing.")
    keys = keys_for(current_app.extensions, current_settings())
    try:
        verified = verify_signature(keys, raw_body, signature)
    except KeyUnavailable as exc:
        current_app.logger.warning("webhook refused: %s", exc)
        return webhooks.error_answer(503, "key_unavailable", "The signing key could not be fetched; retry later.")
    if not verified:
        current_app.logger.warning(
            "webhook with a bad signature refused (rtk-uuid %s)", headers.get("rtk-uuid", "-")[:100]
        )
        return webhooks.error_answer(401, "signature_invalid", "The signature does not match the body.")
    payload = webhooks.read_event(raw_body)
    check_types(payload)
    receipt = webhooks.receive(
        PROVIDER,
        raw_body,
        payload,
        occurred_at=event_time(payload),
        delivery_id=headers.get("rtk-uuid"),
        webhook_id=headers.get("rtk-webhook-id"),
        apply=apply_event,
    )
    return webhooks.receipt_answer(receipt)


def subscribe(settings: Settings, url: str, echo: Echo) -> bool:
    """Make sure RealtimeKit posts EVENTS to `url` (safe to run again)."""
    client = RealtimeKitClient.from_settings(settings)
    try:
        outcome, hook = client.register_webhook(name="Training Portal", url=url, events=EVENTS)
    except ProviderError as exc:
        echo(f"FAIL: {exc}")
        return False
    finally:
        client.http.close()
    echo(f"{outcome}: webhook {hook.get('id')} posts {', '.join(sorted(hook.get('events') or []))} to {url}")
    return True


# --------------------------------------------------------------------------------------------- reading
# The parts of a RealtimeKit event the portal reads: these objects (None: the top of the body), and in them these
# texts; each may also be null or absent. Anything else is refused before it is stored.
_TEXTS: dict[str | None, tuple[str, ...]] = {
    None: ("meetingId", "reason"),
    "meeting": ("id", "startedAt", "endedAt"),
    "participant": ("customParticipantId", "joinedAt", "leftAt"),
    "recording": (
        "id",
        "recordingId",
        "status",
        "downloadUrl",
        "downloadUrlExpiry",
        "meetingId",
        "startedTime",
        "stoppedTime",
    ),
}

# Where each event says when it happened: (object, field). A recording update says it only for the statuses
# reached at a known moment (recording from its start, uploading from its stop); a finished upload or an error
# says no time of its own, nor do the events the portal does not use. Those are judged by their body's hash only.
_EVENT_TIMES = {
    "meeting.started": ("meeting", "startedAt"),
    "meeting.ended": ("meeting", "endedAt"),
    "meeting.participantJoined": ("participant", "joinedAt"),
    "meeting.participantLeft": ("participant", "leftAt"),
}
_RECORDING_TIMES = {"RECORDING": "startedTime", "UPLOADING": "stoppedTime"}


def check_types(payload: dict[str, Any]) -> None:
    """Raise BadRequest (invalid_webhook) unless every part the portal reads has RealtimeKit's type."""
    for part, names in _TEXTS.items():
        if part is not None and payload.get(part) is not None and not isinstance(payload[part], dict):
            raise _wrong_type(part, "an object")
        container = payload if part is None else payload.get(part) or {}
        for name in names:
            if container.get(name) is not None and not isinstance(container[name], str):
                raise _wrong_type(name if part is None else f"{part}.{name}", "a text")


def _wrong_type(where: str, expected: str) -> BadRequest:
    return BadRequest(f"The webhook's {where} is not {expected}.", code="invalid_webhook")


def event_time(payload: dict[str, Any]) -> datetime | None:
    """When the event happened, by the time it names for itself in the signed body; None when it names none.
    Raises BadRequest (invalid_webhook) when that time is not a time. Call after check_types."""
    event = payload["event"]
    if event == "recording.statusUpdate":
        recording = payload.get("recording") or {}
        where = ("recording", _RECORDING_TIMES.get(str(recording.get("status") or "").upper(), ""))
    else:
        where = _EVENT_TIMES.get(event, ("", ""))
    part, name = where
    text = (payload.get(part) or {}).get(name) if part and name else None
    if not text:
        return None
    at = parse_time(text)
    if at is None:
        raise BadRequest(f"The webhook's {part}.{name} is not a time: {text[:40]!r}.", code="invalid_webhook")
    return at


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
    return _meeting_id(payload), _user_id(participant.get("customParticipantId")), participant


def _user_id(custom_id: Any) -> int | None:
    """The portal's user id that RealtimeKit carries as customParticipantId; None for anything that is not one
    (other digits than 0-9 such as "²", or more of them than an id column holds, name nobody)."""
    text = str(custom_id or "")
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _on_participant(signal: NamedSignal, time_field: str, payload: dict[str, Any]) -> str:
    """Someone joined or left (`signal`); `time_field` is when, in the participant's payload."""
    room_id, user_id, participant = _participant(payload)
    if room_id is None or user_id is None:
        return "unknown session or participant"
    at = parse_time(participant.get(time_field)) or now_utc()
    return _outcome(signal.send(room_id, user_id=user_id, at=at), "unknown session or participant")


def _on_recording_status(payload: dict[str, Any]) -> str:
    recording = payload.get("recording") if isinstance(payload.get("recording"), dict) else {}
    recording_id = str(recording.get("id") or recording.get("recordingId") or "")
    status = RECORDING_STATUSES.get(str(recording.get("status") or "").upper())
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
    "meeting.participantJoined": partial(_on_participant, signals.participant_joined, "joinedAt"),
    "meeting.participantLeft": partial(_on_participant, signals.participant_left, "leftAt"),
    "recording.statusUpdate": _on_recording_status,
}
