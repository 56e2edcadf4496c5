"""The video provider port: what the portal needs from a provider of rooms, whatever it is.

Implementations: `local.LocalProvider` (rooms kept by the portal, development and tests) and
`cloudflare.CloudflareProvider` (Cloudflare RealtimeKit meetings). `get_provider()` picks one from settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class ProviderError(Exception):
    """A provider call failed. `retryable` says whether trying again later may help (429, 5xx, network)."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status = status


@dataclass(frozen=True)
class Participant:
    participant_id: str
    token: str
    preset_name: str


@dataclass(frozen=True)
class Recording:
    recording_id: str
    status: str  # the portal's RecordingStatus value: recording, uploading, ready, failed
    download_url: str | None = None
    download_url_expires_at: datetime | None = None


@dataclass(frozen=True)
class JoinGrant:
    """Everything the meeting page needs for one person. The token is theirs alone: never cache or share it."""

    provider: str
    room_id: str
    token: str
    participant_id: str
    is_host: bool


class VideoProvider(Protocol):
    name: str

    def create_room(self, *, title: str, session_id: int, record_on_start: bool = False) -> str:
        """Create a room; return its id. Store the id at once: the provider has no idempotency key."""

    def deactivate_room(self, room_id: str, *, is_live: bool = False) -> None:
        """Block joins to the room (and end a live meeting for everyone when `is_live`)."""

    def add_participant(self, room_id: str, *, user_id: int, name: str, is_host: bool) -> Participant:
        """Register a person in the room; return their participant id and a short-lived token."""

    def refresh_token(self, room_id: str, participant_id: str) -> str:
        """A fresh token for a participant added before (never add the same person twice)."""

    def start_recording(self, room_id: str) -> Recording: ...

    def stop_recording(self, recording_id: str) -> Recording: ...

    def get_recording(self, recording_id: str) -> Recording: ...
