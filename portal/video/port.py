"""The video provider port: what the portal needs from a provider of rooms, whatever it is.

A provider brings two things. Its rooms: an object that satisfies `VideoProvider` (create a room, add people,
record). Its edge, registered with `ProviderKind`: how to build that object from settings, the room partial and
Content-Security-Policy of the room page, its webhooks, and its `portal video check`. Each provider module
registers its kind when imported (portal.video.registry); `portal.video.get_provider()` builds the configured one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from portal.config import Settings

Echo = Callable[[str], None]  # how a command tells the operator one line (click.echo)


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

    provider: str  # the registered name of the provider that issued it: its room partial and CSP render the page
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

    def open_rooms(self, *, created_before: datetime) -> list[str]:
        """The ids of this portal's rooms that are still open and were created before `created_before`: the orphan
        sweep (training.rooms.close_orphan_rooms) closes those no session holds."""

    def add_participant(self, room_id: str, *, user_id: int, name: str, is_host: bool) -> Participant:
        """Register a person in the room; return their participant id and a short-lived token."""

    def refresh_token(self, room_id: str, participant_id: str) -> str:
        """A fresh token for a participant added before (never add the same person twice)."""

    def start_recording(self, room_id: str) -> Recording: ...

    def stop_recording(self, recording_id: str) -> Recording: ...

    def fetch_recording(self, recording_id: str) -> Recording:
        """The recording as the provider has it now, with its current download/playback link (`download_url`, None
        until it is ready) and that link's expiry. Asked at the moment someone clicks "Watch", for that viewer;
        the portal never stores the link (training.rooms.fetch_recording_link). A recording the provider no longer
        has raises ProviderError with status 404."""


# --------------------------------------------------------------------------------------------- the edge
@dataclass(frozen=True)
class WebhookAnswer:
    """The answer to one webhook delivery: an HTTP status and a JSON body (portal.video.webhooks builds both)."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class ProviderWebhooks:
    """How a provider tells the portal what happens in its rooms.

    `receive(body, headers)` answers one delivery to `/webhooks/<name>`: verify it over the raw body, read it
    (portal.video.webhooks.read_event, then the provider's own checks of the fields it uses), say when its event
    happened by what the signature covers, and hand it to portal.video.webhooks.receive, which stores it once
    (keyed by the body), refuses it when too old, and applies it by the provider's `apply` (sending
    portal.video.signals). `headers` are the request's (read case-insensitively, and unsigned unless the provider
    signs them); a DomainError it raises is answered as JSON with its status.
    `subscribe(settings, url, echo)` has the provider post its events to `url` (`portal video register-webhook`),
    saying what it did; False when it could not."""

    receive: Callable[[bytes, Mapping[str, str]], WebhookAnswer]
    subscribe: Callable[[Settings, str, Echo], bool]


@dataclass(frozen=True)
class ProviderKind:
    """One kind of video provider, as its module registers it (portal.video.registry.register)."""

    name: str  # the value of PORTAL_VIDEO_PROVIDER, JoinGrant.provider, and the <name> of /webhooks/<name>
    build: Callable[[Settings], VideoProvider]  # the provider object; get_provider() builds one per app
    room_template: str  # the room partial; it sees grant, session, user and `provider` (this kind)
    check: Callable[[Settings, Echo], bool]  # `portal video check`: says what it checked; False if anything is wrong
    room_csp: str | None = None  # the room page's Content-Security-Policy; None keeps the portal's default
    room_assets: Mapping[str, str] = field(default_factory=dict)  # what the partial reads (pinned script URLs)
    webhooks: ProviderWebhooks | None = None  # None: the provider sends none, and /webhooks/<name> answers 404
