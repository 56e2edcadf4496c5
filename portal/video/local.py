"""The `local` provider: rooms kept in the portal's own database. For development and tests; its room partial
says plainly that it is not a real video room. It needs no settings, sends no webhooks, and has nothing to check."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from urllib.parse import urlencode

from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import select

from portal.config import Settings, current_settings
from portal.extensions import db
from portal.video.models import LocalRoom, RecordingStatus
from portal.video.port import Echo, Participant, ProviderError, ProviderKind, Recording
from portal.video.registry import register

TOKEN_MAX_AGE_SECONDS = 4 * 3600
LOCAL_RECORDING_PAGE = "/static/video/local-recording.html"  # what a local "recording" links to


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_settings().SECRET_KEY, salt="local-room-token")


class LocalProvider:
    name = "local"

    def create_room(self, *, title: str, session_id: int, record_on_start: bool = False) -> str:
        room = LocalRoom(id=f"local-{uuid.uuid4().hex}", title=title[:200])
        db.session.add(room)
        db.session.flush()
        return room.id

    def _room(self, room_id: str) -> LocalRoom:
        room = db.session.get(LocalRoom, room_id)
        if room is None:
            raise ProviderError(f"local room {room_id} does not exist", retryable=False, status=404)
        return room

    def deactivate_room(self, room_id: str, *, is_live: bool = False) -> None:
        self._room(room_id).is_active = False
        db.session.flush()

    def open_rooms(self, *, created_before: datetime) -> list[str]:
        return list(
            db.session.scalars(
                select(LocalRoom.id).where(LocalRoom.is_active.is_(True), LocalRoom.created_at < created_before)
            )
        )

    def add_participant(self, room_id: str, *, user_id: int, name: str, is_host: bool) -> Participant:
        room = self._room(room_id)
        if not room.is_active:
            raise ProviderError("the room is closed", retryable=False, status=409)
        participant_id = f"lp-{user_id}-{secrets.token_hex(6)}"
        return Participant(
            participant_id, self._token(room_id, user_id, participant_id), "host" if is_host else "participant"
        )

    def refresh_token(self, room_id: str, participant_id: str) -> str:
        room = self._room(room_id)
        if not room.is_active:
            raise ProviderError("the room is closed", retryable=False, status=409)
        user_id = int(participant_id.split("-")[1])
        return self._token(room_id, user_id, participant_id)

    @staticmethod
    def _token(room_id: str, user_id: int, participant_id: str) -> str:
        return _serializer().dumps({"room": room_id, "user": user_id, "participant": participant_id})

    @staticmethod
    def read_token(token: str) -> dict | None:
        """The token's claims if it is genuine and fresh, else None."""
        try:
            return _serializer().loads(token, max_age=TOKEN_MAX_AGE_SECONDS)
        except BadData:  # a forged, garbled or expired token
            return None

    def start_recording(self, room_id: str) -> Recording:
        room = self._room(room_id)
        room.recording_id = f"lrec-{uuid.uuid4().hex[:12]}"
        db.session.flush()
        return Recording(room.recording_id, RecordingStatus.RECORDING.value)

    def stop_recording(self, recording_id: str) -> Recording:
        # Local rooms record nothing real: the recording ends as "failed" with no file, and the page says so.
        return Recording(recording_id, RecordingStatus.FAILED.value)

    def fetch_recording(self, recording_id: str) -> Recording:
        """Its own link: a page of the portal's that says a development room records nothing (a recording marked
        ready by hand, in development or tests, leads there)."""
        if not recording_id:
            raise ProviderError("no such local recording", retryable=False, status=404)
        base = current_settings().BASE_URL.rstrip("/")
        return Recording(
            recording_id, RecordingStatus.READY.value, f"{base}{LOCAL_RECORDING_PAGE}?{urlencode({'id': recording_id})}"
        )


def check(settings: Settings, echo: Echo) -> bool:
    echo("video provider: local (development rooms kept by the portal): there is nothing to check.")
    return True


register(
    ProviderKind(
        name=LocalProvider.name,
        build=lambda settings: LocalProvider(),
        room_template="video/_room_local.html",
        check=check,
    )
)
