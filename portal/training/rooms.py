"""A session's room, join grants and recording: the training side of the video provider.

Rooms belong to sessions (their state is in the session's row: `room_*`, `recording_*`); the provider
(portal.video) knows nothing of sessions. These functions call the configured provider, store what comes back
at once (so a retry never creates a second room or participant), flush, and raise DomainErrors; the caller
commits. `ensure_room` is the exception: one room per session however many ask at once, so its claim and the room
it stores are committed at once (see there). `provision_room` is the job that gives a session its room ahead of
time; `sweep_rooms` finds the sessions that still need one; `close_orphan_rooms` closes rooms the provider made that
no session holds (a creator that crashed between the provider's create and storing it).
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import lazyload

from portal.accounts.models import User
from portal.config import current_settings
from portal.core.clock import now_utc
from portal.core.errors import Conflict, NotFound, ServiceUnavailable
from portal.core.queue import enqueue
from portal.extensions import db
from portal.training import queries, recordings, signals
from portal.training.models import FINAL_STATUSES, RoomStatus, SessionStatus, TrainingSession
from portal.training.rules import can_watch_recording, is_instructor_of, room_backoff
from portal.video import get_provider
from portal.video.models import RecordingStatus, VideoParticipant
from portal.video.port import JoinGrant, ProviderError

log = logging.getLogger(__name__)
PROVISION_TIMEOUT = 120  # seconds: the provider client retries inside one call
PROVISION_LEASE = timedelta(minutes=5)  # longer than PROVISION_TIMEOUT: one attempt at a time per session
# A creator's claim on a session's room: longer than any provider create (the client's retries included), so a claim
# this old is a crashed creator's and may be taken over.
ROOM_CLAIM_LEASE = timedelta(minutes=3)
ROOM_PENDING_RETRY_AFTER = 5  # seconds: what a joiner is told to wait when another request is still creating the room


def ensure_room(session: TrainingSession) -> str:
    """The session's room id, creating the room if it has none: one room per session however many ask at once.

    The first caller claims the creation in the session's row (`room_claim`, committed, so every thread and
    process sees it) and creates the room; the others wait for it, up to ROOM_WAIT_SECONDS, and get that room.
    A claim older than ROOM_CLAIM_LEASE is a crashed creator's and is taken over. Raises ServiceUnavailable:
    `room_unavailable` when the provider failed (recorded: room_status=failed, room_error), `room_pending` with
    a Retry-After when another request is still creating the room.

    It commits (the caller's work so far too): a claim must be seen by others at once, and a room the provider made
    is stored at once, or it is lost. Call it before the caller's own writes (the join commits its seat first)."""
    if session.room_id and session.room_status == RoomStatus.READY.value:
        return session.room_id
    deadline = time.monotonic() + current_settings().ROOM_WAIT_SECONDS
    pause = 0.05
    waited_on: str | None = None  # the claim of the creator this caller waits for
    while True:
        db.session.commit()  # nothing of this caller's is held while it waits, and each look reads the latest
        row = _room_row(session.id)
        if row.room_id and row.room_status == RoomStatus.READY.value:
            _reload_room(session)
            return row.room_id
        if row.room_claim is None and waited_on is not None:
            _reload_room(session)  # the creator we waited for failed: its answer is ours (no second attempt now)
            raise ServiceUnavailable(
                _l("The video room could not be created. Try again in a minute."), code="room_unavailable"
            )
        claim = _claim_creation(session.id)  # taken only when no one holds a live claim
        if claim is not None:
            room_id = _create_room(session, claim)
            if room_id is not None:
                return room_id
            continue  # our claim ran out and was taken over: that creator's room is the one
        waited_on = row.room_claim or waited_on
        if time.monotonic() >= deadline:
            _reload_room(session)
            raise ServiceUnavailable(
                _l("The video room is still being prepared. Try again in a few seconds."),
                code="room_pending",
                retry_after=ROOM_PENDING_RETRY_AFTER,
            )
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def _claim_creation(session_id: int) -> str | None:
    """Claim the creation of the session's room (committed); the claim's token, or None when the room is ready or
    another creator holds a live claim. Each claim counts as an attempt."""
    claim = secrets.token_hex(8)
    now = now_utc()
    result = db.session.execute(
        update(TrainingSession)
        .where(
            TrainingSession.id == session_id,
            or_(TrainingSession.room_id.is_(None), TrainingSession.room_status != RoomStatus.READY.value),
            or_(TrainingSession.room_claim.is_(None), TrainingSession.room_claimed_at <= now - ROOM_CLAIM_LEASE),
        )
        .values(room_claim=claim, room_claimed_at=now, room_attempts=TrainingSession.room_attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return claim if result.rowcount == 1 else None


def _create_room(session: TrainingSession, claim: str) -> str | None:
    """Create the room under `claim` and store it with the claim released (committed). None when the claim was
    taken over meanwhile (this creator outlived its lease): the room made here is closed unless it is the one
    stored (a provider that finds a room it made before hands the same one to both)."""
    try:
        room_id = get_provider().create_room(title=session.title, session_id=session.id)
    except ProviderError as exc:
        db.session.rollback()
        _release_claim(session.id, claim, room_status=RoomStatus.FAILED.value, room_error=str(exc)[:500])
        _reload_room(session)
        raise ServiceUnavailable(
            _l("The video room could not be created. Try again in a minute."), code="room_unavailable"
        ) from exc
    except BaseException:
        db.session.rollback()
        _release_claim(session.id, claim)  # an unexpected error: the next caller tries at once
        raise
    try:
        stored = db.session.execute(
            update(TrainingSession)
            .where(TrainingSession.id == session.id, TrainingSession.room_claim == claim)
            .values(
                room_id=room_id,
                room_status=RoomStatus.READY.value,
                room_error=None,
                room_next_attempt_at=None,
                room_claim=None,
                room_claimed_at=None,
            )
            .execution_options(synchronize_session=False)
        )
        if stored.rowcount == 1:
            db.session.commit()
    except BaseException:
        # Not stored (the database is busy or away): the next caller tries at once. The room made here is found
        # again by a provider that looks for its own rooms first (cloudflare), else closed by close_orphan_rooms.
        db.session.rollback()
        _release_claim(session.id, claim)
        raise
    if stored.rowcount == 1:
        _reload_room(session)
        return room_id
    db.session.rollback()
    if _room_row(session.id).room_id != room_id:
        close_orphan(room_id)
    return None


def _release_claim(session_id: int, claim: str, **values) -> None:
    try:
        db.session.execute(
            update(TrainingSession)
            .where(TrainingSession.id == session_id, TrainingSession.room_claim == claim)
            .values(room_claim=None, room_claimed_at=None, **values)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    except SQLAlchemyError:  # the database is away: the claim runs out by its lease
        db.session.rollback()
        log.warning("room claim of session %s not released; it runs out in %s", session_id, ROOM_CLAIM_LEASE)


def _room_row(session_id: int):
    return db.session.execute(
        select(
            TrainingSession.room_id,
            TrainingSession.room_status,
            TrainingSession.room_claim,
        ).where(TrainingSession.id == session_id)
    ).one()


def _reload_room(session: TrainingSession) -> None:
    """The session object as stored now, for the room's columns (changed above by statements, not by the object)."""
    db.session.refresh(session, attribute_names=_ROOM_COLUMNS)


_ROOM_COLUMNS = ["room_id", "room_status", "room_error", "room_attempts", "room_next_attempt_at", "room_claim"]


def close_orphan(room_id: str) -> bool:
    """Close a room the provider made that no session holds. Best effort: a room already gone counts as closed, a
    provider that cannot be reached leaves it to close_orphan_rooms. True when it is closed."""
    try:
        get_provider().deactivate_room(room_id)
    except ProviderError as exc:
        if exc.status == 404:
            return True
        log.warning("orphan room %s not closed yet: %s", room_id, exc)
        return False
    log.info("closed orphan room %s", room_id)
    return True


def close_orphan_rooms() -> int:
    """Close the provider's open rooms that no session holds (a creator that crashed between the provider's create
    and storing it). Rooms younger than the claim lease are left alone: their creator may still be storing them."""
    open_ids = get_provider().open_rooms(created_before=now_utc() - ROOM_CLAIM_LEASE)
    if not open_ids:
        return 0
    held = set(db.session.scalars(select(TrainingSession.room_id).where(TrainingSession.room_id.in_(open_ids))).all())
    closed = sum(close_orphan(room_id) for room_id in open_ids if room_id not in held)
    db.session.commit()
    return closed


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
            raise ServiceUnavailable(_l("The video room could not be closed yet."), code="room_unavailable") from exc
    session.room_status = RoomStatus.INACTIVE.value
    db.session.flush()


def issue_join_grant(session: TrainingSession, user: User) -> JoinGrant:
    """A participant token for `user` in the session's room: added once, refreshed after that."""
    if not session.room_id or session.room_status != RoomStatus.READY.value:
        raise Conflict(_l("The room for this session is not ready yet."), code="room_not_ready")
    provider = get_provider()
    is_host = is_instructor_of(session, user)
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
            _l("The room is not reachable right now. Please try again."), code="room_unreachable"
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
            raise ServiceUnavailable(_l("The recording could not be started."), code="recording_unavailable") from exc
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
    """Apply a recording update unless it is stale (earlier than the status held, the status held again, or a
    different final one). True when the status moved.

    The provider's link (`url`) is not stored: "Watch" fetches it for the viewer at click time
    (fetch_recording_link). Its expiry is kept (`recording_url_expires_at`): past it the recording is no longer
    listed. The move is a conditional UPDATE of the row (from the status read, for this recording), so of two
    deliveries of the same update applied at once only one moves it, and `training.recording_ready` is sent
    exactly once per recording, by the one that made it ready."""
    current = session.recording_status
    if status not in _RECORDING_RANK:
        return False
    if current in _RECORDING_RANK and (
        _RECORDING_RANK[status] < _RECORDING_RANK[current]
        or (_RECORDING_RANK[current] == 2 and status != current)
        or status == current
    ):
        return False
    values: dict = {"recording_status": status}
    if url and status == RecordingStatus.READY.value:
        values["recording_url_expires_at"] = expires_at
    db.session.flush()  # the session's own pending changes (a recording id just learned) go first
    was = TrainingSession.recording_status.is_(None) if current is None else TrainingSession.recording_status == current
    moved = db.session.execute(
        update(TrainingSession)
        .where(TrainingSession.id == session.id, was)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(session, ["recording_status", "recording_url_expires_at"])
    if moved != 1:
        return False
    if status == RecordingStatus.READY.value:
        signals.recording_ready.send(session)
    db.session.flush()
    return True


def recording_link(session: TrainingSession, viewer) -> str | None:
    """Where `viewer` watches the session's recording: the portal's watch route (never the provider's link), only
    for someone who may watch it now (recordings.is_listed: checks 1-4 of joining, ready, within the retention).
    The session page and the session JSON show this; the provider's link is fetched when it is followed."""
    settings = current_settings()
    if not recordings.is_listed(session, viewer, now_utc(), settings.RECORDING_RETENTION_DAYS):
        return None
    return settings.BASE_URL.rstrip("/") + recordings.watch_path(session.id)


def fetch_recording_link(session: TrainingSession, viewer) -> str:
    """The provider's current link to the session's recording, asked for now, for `viewer` (who must be allowed to
    watch it: the caller checked recordings.is_listed; checked again here). Never stored. Raises NotFound
    (`recording_gone`) when the provider no longer has it or has no link for it, ServiceUnavailable
    (`recording_unavailable`) when the provider cannot be reached."""
    if not can_watch_recording(session, viewer) or not session.recording_id:
        raise NotFound(_l("Recording not found."), code="recording_gone")
    try:
        recording = get_provider().fetch_recording(session.recording_id)
    except ProviderError as exc:
        if exc.status in (404, 410):
            raise NotFound(_l("The video provider no longer has this recording."), code="recording_gone") from exc
        log.warning("recording of session %s: the provider did not give its link: %s", session.id, exc)
        raise ServiceUnavailable(
            _l("The video provider did not answer. Try again in a minute."),
            code="recording_unavailable",
            retry_after=60,
        ) from exc
    expired = recording.download_url_expires_at is not None and recording.download_url_expires_at <= now_utc()
    if recording.status != RecordingStatus.READY.value or not recording.download_url or expired:
        raise NotFound(_l("The video provider has no link to this recording now."), code="recording_gone")
    return recording.download_url


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
        if exc.code == "room_pending":  # a join is creating it right now: the next sweep finds it ready
            session.room_next_attempt_at = now_utc() + timedelta(minutes=1)
            db.session.commit()
            return "skipped: another request is creating the room"
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
        select(TrainingSession)
        .where(
            TrainingSession.status.in_([SessionStatus.SCHEDULED.value, SessionStatus.LIVE.value]),
            TrainingSession.start_time <= now + ahead,
            queries.needs_room_attempt(now),
        )
        # only ids and attempt counters are read: not the instructor and event every session joins by default
        .options(lazyload(TrainingSession.instructor), lazyload(TrainingSession.event))
    ).all()
    return sum(enqueue(provision_room, s.id, **provision_job_options(s)) for s in sessions)
