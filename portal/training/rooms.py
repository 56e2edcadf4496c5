"""A session's room, join grants and recording: the training side of the video provider.

Rooms belong to sessions (their state is in the session's row: `room_*`, `recording_*`); the provider
(portal.video) knows nothing of sessions. These functions call the configured provider, store what comes back
at once (so a retry never creates a second room or participant), flush, and raise DomainErrors; the caller
commits. `provision_room` is the job that gives a session its room ahead of time; `sweep_rooms` finds the
sessions that still need one.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update

from portal.accounts.models import User
from portal.config import current_settings
from portal.core.clock import now_utc
from portal.core.errors import Conflict, ServiceUnavailable
from portal.core.queue import enqueue
from portal.extensions import db
from portal.training import queries
from portal.training.models import FINAL_STATUSES, RoomStatus, SessionStatus, TrainingSession
from portal.training.rules import can_watch_recording, room_backoff
from portal.video import get_provider
from portal.video.models import RecordingStatus, VideoParticipant
from portal.video.port import JoinGrant, ProviderError

log = logging.getLogger(__name__)
PROVISION_TIMEOUT = 120  # seconds: the provider client retries inside one call
PROVISION_LEASE = timedelta(minutes=5)  # longer than PROVISION_TIMEOUT: one attempt at a time per session


def ensure_room(session: TrainingSession) -> str:
    """The session's room id, creating the room if it has none. Raises ServiceUnavailable if the provider fails."""
    if session.room_id and session.room_status == RoomStatus.READY.value:
        return session.room_id
    provider = get_provider()
    session.room_attempts += 1
    try:
        room_id = provider.create_room(title=session.title, session_id=session.id)
    except ProviderError as exc:
        session.room_status = RoomStatus.FAILED.value
        session.room_error = str(exc)[:500]
        db.session.flush()
        raise ServiceUnavailable(
            "The video room could not be created. Try again in a minute.", code="room_unavailable"
        ) from exc
    session.room_id = room_id
    session.room_status = RoomStatus.READY.value
    session.room_error = None
    session.room_next_attempt_at = None
    db.session.flush()
    return room_id


def deactivate_room(session: TrainingSession) -> None:
    """Close the session's room (ended or canceled sessions). A room that is already gone counts as closed."""
    if not session.room_id or session.room_status == RoomStatus.INACTIVE.value:
        return
    try:
        # A started session may still have people in its meeting (end_session marks it ended before closing
        # the room): end the meeting for everyone; the provider answers "no live session" otherwise.
        is_live = session.status == SessionStatus.LIVE.value or session.started_at is not None
        get_provider().deactivate_room(session.room_id, is_live=is_live)
    except ProviderError as exc:
        if exc.retryable:
            raise ServiceUnavailable("The video room could not be closed yet.", code="room_unavailable") from exc
    session.room_status = RoomStatus.INACTIVE.value
    db.session.flush()


def issue_join_grant(session: TrainingSession, user: User) -> JoinGrant:
    """A participant token for `user` in the session's room: added once, refreshed after that."""
    if not session.room_id or session.room_status != RoomStatus.READY.value:
        raise Conflict("The room for this session is not ready yet.", code="room_not_ready")
    provider = get_provider()
    is_host = user.id == session.instructor_id
    existing = db.session.scalar(
        select(VideoParticipant).where(VideoParticipant.room_id == session.room_id, VideoParticipant.user_id == user.id)
    )
    try:
        if existing is not None:
            try:
                token = provider.refresh_token(session.room_id, existing.participant_id)
                return JoinGrant(provider.name, session.room_id, token, existing.participant_id, is_host)
            except ProviderError as exc:
                if exc.status != 404:
                    raise
                db.session.delete(existing)  # the provider no longer knows this participant: add them afresh
                db.session.flush()
        participant = provider.add_participant(session.room_id, user_id=user.id, name=user.name, is_host=is_host)
    except ProviderError as exc:
        raise ServiceUnavailable(
            "The room is not reachable right now. Please try again.", code="room_unreachable"
        ) from exc
    db.session.add(
        VideoParticipant(
            session_id=session.id,
            user_id=user.id,
            room_id=session.room_id,
            participant_id=participant.participant_id,
            preset_name=participant.preset_name,
        )
    )
    db.session.flush()
    return JoinGrant(provider.name, session.room_id, participant.token, participant.participant_id, is_host)


def start_recording(session: TrainingSession) -> None:
    """Start the session's recording (when recording is enabled and none runs yet)."""
    if not session.recording_enabled or session.recording_id or not session.room_id:
        return
    try:
        recording = get_provider().start_recording(session.room_id)
    except ProviderError as exc:
        session.recording_status = RecordingStatus.FAILED.value
        db.session.flush()
        if exc.retryable:
            raise ServiceUnavailable("The recording could not be started.", code="recording_unavailable") from exc
        return
    session.recording_id = recording.recording_id
    session.recording_status = recording.status
    db.session.flush()


def stop_recording(session: TrainingSession) -> None:
    if not session.recording_id or session.recording_status != RecordingStatus.RECORDING.value:
        return
    try:
        recording = get_provider().stop_recording(session.recording_id)
    except ProviderError:
        return  # the provider stops it by itself when everyone has left; its webhook tells us the outcome
    advance_recording(session, recording.status, recording.download_url, recording.download_url_expires_at)


# recording -> uploading -> ready | failed; updates may arrive out of order and never move a recording back.
_RECORDING_RANK = {
    RecordingStatus.RECORDING.value: 0,
    RecordingStatus.UPLOADING.value: 1,
    RecordingStatus.READY.value: 2,
    RecordingStatus.FAILED.value: 2,
}


def advance_recording(session: TrainingSession, status: str, url: str | None = None, expires_at=None) -> bool:
    """Apply a recording update unless it is stale (earlier than the status held, or a different final one)."""
    current = session.recording_status
    if current in _RECORDING_RANK and (
        _RECORDING_RANK[status] < _RECORDING_RANK[current] or (_RECORDING_RANK[current] == 2 and status != current)
    ):
        return False
    session.recording_status = status
    if url:
        session.recording_url = url
        session.recording_url_expires_at = expires_at
    db.session.flush()
    return True


def _valid_link(session: TrainingSession) -> str | None:
    """The recording's link while the provider's link is still valid (for whom: recording_link)."""
    if session.recording_status != RecordingStatus.READY.value or not session.recording_url:
        return None
    if session.recording_url_expires_at and session.recording_url_expires_at <= now_utc():
        return None
    return session.recording_url


def recording_link(session: TrainingSession, viewer) -> str | None:
    """The recording's link as a response to `viewer` may carry it: only to someone who may watch it (the
    provider's link must never reach anyone else, in a page or in JSON), and only while it is valid."""
    return _valid_link(session) if can_watch_recording(session, viewer) else None


# ------------------------------------------------------------------------------------------------ rooms
def provision_job_options(session: TrainingSession) -> dict:
    return {
        "job_id": f"provision-{session.id}-{session.room_attempts}",
        "unique": True,
        "job_timeout": PROVISION_TIMEOUT,
        "result_ttl": 3600,
    }


def provision_room(session_id: int) -> str:
    """Give the session a room if it still needs one. One attempt at a time per session (a lease in the row);
    a provider failure is recorded (room_status=failed, room_error) with the time of the next attempt."""
    if not _claim_provisioning(session_id):
        db.session.rollback()
        return "skipped: not needed, or another attempt is under way or backing off"
    db.session.commit()
    session = db.session.get(TrainingSession, session_id)
    try:
        room_id = ensure_room(session)
    except ServiceUnavailable as exc:
        session.room_next_attempt_at = now_utc() + room_backoff(session.room_attempts)
        db.session.commit()
        log.warning(
            "room for session %s not created (attempt %s, next at %s): %s",
            session_id,
            session.room_attempts,
            session.room_next_attempt_at,
            session.room_error or exc,
        )
        return f"failed: {session.room_error}"
    db.session.commit()
    return room_id


def _claim_provisioning(session_id: int) -> bool:
    now = now_utc()
    result = db.session.execute(
        update(TrainingSession)
        .where(
            TrainingSession.id == session_id,
            TrainingSession.status.not_in(FINAL_STATUSES),
            queries.needs_room_attempt(now),
        )
        .values(room_next_attempt_at=now + PROVISION_LEASE)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def sweep_rooms() -> int:
    """Every minute: sessions starting within PROVISION_AHEAD_HOURS (or live) without a ready room, whose backoff
    has run out, get a provisioning job. Catches enqueues lost while Redis was down."""
    now = now_utc()
    ahead = timedelta(hours=current_settings().PROVISION_AHEAD_HOURS)
    sessions = db.session.scalars(
        select(TrainingSession).where(
            TrainingSession.status.in_([SessionStatus.SCHEDULED.value, SessionStatus.LIVE.value]),
            TrainingSession.start_time <= now + ahead,
            queries.needs_room_attempt(now),
        )
    ).all()
    return sum(enqueue(provision_room, s.id, **provision_job_options(s)) for s in sessions)
