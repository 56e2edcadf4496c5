"""The recordings library: which recordings a viewer may watch, listed for RECORDING_RETENTION_DAYS after their
session ended.

Where recordings are known: the session's row (`recording_id`, `recording_status` ready, and the provider's
`recording_url_expires_at` when it said how long its link lasts; portal/training/rooms.py keeps them). The provider's
link itself is not stored: portal/training/recordings_views.py fetches it for the viewer at click time
(rooms.fetch_recording_link). Watching needs what joining needs, checks 1-4 (rules.can_watch_recording): the session
is visible to the viewer and not canceled, the viewer is signed in, and a members-only session's recording is for
members. The SQL narrows; the rule decides, row by row.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select
from werkzeug.routing import BuildError

from portal.accounts.roles import Role, has_role
from portal.extensions import db
from portal.training import rules
from portal.training.models import SessionStatus, TrainingSession
from portal.video.models import RecordingStatus

LIST_LIMIT = 500  # a library page; 30 days of sessions is far fewer
WATCH_ENDPOINT = "recordings.watch"  # portal/training/recordings_views.py


def watch_path(session_id: int) -> str:
    """The portal's watch route of a session's recording (it checks access and fetches the provider's link)."""
    try:
        return current_app.url_map.bind("portal").build(WATCH_ENDPOINT, {"session_id": session_id})
    except (BuildError, RuntimeError):
        return f"/recordings/{session_id}/watch"


def retention_cutoff(now: datetime, retention_days: int) -> datetime:
    """Sessions that ended before this are no longer listed."""
    return now - timedelta(days=retention_days)


def _ended_at():
    return func.coalesce(TrainingSession.ended_at, TrainingSession.end_time)


def _listed_where(now: datetime, retention_days: int) -> list:
    return [
        TrainingSession.status == SessionStatus.ENDED.value,
        TrainingSession.recording_status == RecordingStatus.READY.value,
        TrainingSession.recording_id.is_not(None),
        or_(TrainingSession.recording_url_expires_at.is_(None), TrainingSession.recording_url_expires_at > now),
        _ended_at() > retention_cutoff(now, retention_days),
    ]


def is_listed(session: TrainingSession, viewer, now: datetime, retention_days: int) -> bool:
    """The session's recording is in the viewer's library now (the same answer as `watchable` gives, per session)."""
    ended = session.ended_at or session.end_time
    return (
        session.status == SessionStatus.ENDED.value
        and session.recording_status == RecordingStatus.READY.value
        and bool(session.recording_id)
        and (session.recording_url_expires_at is None or session.recording_url_expires_at > now)
        and ended > retention_cutoff(now, retention_days)
        and rules.can_watch_recording(session, viewer)
    )


def watchable(viewer, now: datetime, retention_days: int) -> list[TrainingSession]:
    """The sessions whose recording the viewer may watch now, most recently ended first. Nobody signed out has any."""
    if not getattr(viewer, "is_authenticated", False):
        return []
    where = _listed_where(now, retention_days)
    if not has_role(viewer, Role.MEMBER):  # `public` users: public sessions that are not members-only
        where += [TrainingSession.is_public.is_(True), TrainingSession.members_only.is_(False)]
    sessions = db.session.scalars(
        select(TrainingSession).where(*where).order_by(_ended_at().desc(), TrainingSession.id.desc()).limit(LIST_LIMIT)
    ).all()
    return [session for session in sessions if rules.can_watch_recording(session, viewer)]
