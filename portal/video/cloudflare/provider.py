"""The `cloudflare` provider's rooms: the VideoProvider port mapped onto RealtimeKit meetings."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from portal.config import Settings
from portal.video.cloudflare.client import RealtimeKitClient, map_recording_status, parse_time
from portal.video.port import Participant, ProviderError, Recording


def meeting_title(title: str, session_id: int, base_url: str) -> str:
    """The meeting's title: the session title plus a marker unique to this portal and session, so a create that
    may have gone through is found again instead of repeated (two portals on one app never share a marker)."""
    return f"{title[:150]} {meeting_marker(base_url)}{session_id}]"


def meeting_marker(base_url: str) -> str:
    """The start of this portal's marker in its meetings' titles ("[tp-<portal>-s"), which the session id ends."""
    portal = hashlib.sha256(base_url.encode()).hexdigest()[:8]
    return f"[tp-{portal}-s"


def to_recording(data: dict[str, Any]) -> Recording:
    if not isinstance(data, dict) or not data.get("id"):
        raise ProviderError("RealtimeKit returned a recording without an id", retryable=True)
    return Recording(
        data["id"],
        map_recording_status(data.get("status")),
        data.get("download_url") or None,
        parse_time(data.get("download_url_expiry")),
    )


class CloudflareProvider:
    name = "cloudflare"

    def __init__(self, client: RealtimeKitClient, *, host_preset: str, learner_preset: str, base_url: str):
        self.client = client
        self.host_preset = host_preset
        self.learner_preset = learner_preset
        self.base_url = base_url

    @classmethod
    def from_settings(cls, settings: Settings) -> CloudflareProvider:
        return cls(
            RealtimeKitClient.from_settings(settings),
            host_preset=settings.CLOUDFLARE_HOST_PRESET,
            learner_preset=settings.CLOUDFLARE_LEARNER_PRESET,
            base_url=settings.BASE_URL,
        )

    def create_room(self, *, title: str, session_id: int, record_on_start: bool = False) -> str:
        meeting = self.client.create_meeting(
            meeting_title(title, session_id, self.base_url), record_on_start=record_on_start
        )
        if not isinstance(meeting, dict) or not meeting.get("id"):
            raise ProviderError("RealtimeKit created a meeting without an id", retryable=True)
        return meeting["id"]

    def deactivate_room(self, room_id: str, *, is_live: bool = False) -> None:
        if is_live:
            self.client.kick_all(room_id)
        self.client.deactivate_meeting(room_id)

    def open_rooms(self, *, created_before: datetime) -> list[str]:
        """This portal's ACTIVE meetings (their titles carry its marker) created before `created_before`."""
        marker = meeting_marker(self.base_url)
        return [
            meeting["id"]
            for meeting in self.client.list_meetings(search=marker, status="ACTIVE")
            if marker in str(meeting.get("title") or "")
            and (created := parse_time(meeting.get("created_at"))) is not None
            and created < created_before
        ]

    def add_participant(self, room_id: str, *, user_id: int, name: str, is_host: bool) -> Participant:
        preset = self.host_preset if is_host else self.learner_preset
        data = self.client.add_participant(
            room_id, custom_participant_id=str(user_id), preset_name=preset, name=name[:100]
        )
        if not isinstance(data, dict) or not data.get("id") or not data.get("token"):
            raise ProviderError("RealtimeKit added a participant without an id or token", retryable=True)
        return Participant(data["id"], data["token"], data.get("preset_name") or preset)

    def refresh_token(self, room_id: str, participant_id: str) -> str:
        return self.client.refresh_token(room_id, participant_id)

    def start_recording(self, room_id: str) -> Recording:
        return to_recording(self.client.start_recording(room_id))

    def stop_recording(self, recording_id: str) -> Recording:
        return to_recording(self.client.stop_recording(recording_id))

    def fetch_recording(self, recording_id: str) -> Recording:
        """`GET recordings/{id}`: its status and current `download_url` (filled once UPLOADED) with its expiry."""
        return to_recording(self.client.get_recording(recording_id))
