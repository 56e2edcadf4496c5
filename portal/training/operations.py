"""Writes of training sessions: schedule, edit, cancel, start, end. Shared by the HTML views, the JSON API, the
jobs and the CLI. They flush and raise DomainErrors; the caller commits once. Every change is audited.

`actor=None` means the system (a worker): only `end_session` accepts it.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from portal.accounts.models import User
from portal.accounts.roles import Role, has_role
from portal.audit.operations import diff, record
from portal.core.clock import now_utc
from portal.core.errors import Conflict, Forbidden, ServiceUnavailable, ValidationFailed
from portal.core.queue import enqueue_after_commit
from portal.core.signals import answers
from portal.core.timezones import format_local
from portal.events.models import Event
from portal.extensions import db
from portal.training import rooms, rules, signals
from portal.training.models import EndReason, RoomStatus, SessionStatus, TrainingSession

log = logging.getLogger(__name__)
ENTITY = "training_session"
AUDITED_FIELDS = tuple(sorted(rules.WRITABLE_FIELDS))  # every field a person may set is audited


# ------------------------------------------------------------------------------------------------ validation
def check_session_data(
    raw: dict[str, Any], *, actor: User, session: TrainingSession | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate `raw` for a new session (session=None) or an edit; returns (clean, errors) and raises nothing
    except Forbidden when the actor names another instructor without being allowed to."""
    if session is not None:
        db.session.refresh(session, ["seats_taken"])  # the lowest capacity allowed, as of now
    clean, errors = rules.validate_session(
        raw,
        now=now_utc(),
        partial=session is not None,
        current_start=session.start_time if session is not None else None,
        seats_taken=session.seats_taken if session is not None else 0,
    )
    if clean.get("event_id") is not None and db.session.get(Event, clean["event_id"]) is None:
        errors["event_id"] = "event not found"
    if "instructor_id" in clean:
        errors.update(_instructor_errors(clean["instructor_id"], actor, session))
    if session is not None:
        errors.update(rules.live_edit_error(_changed(session, clean), session.status))
    return clean, errors


def _instructor_errors(instructor_id: int, actor: User, session: TrainingSession | None) -> dict[str, str]:
    unchanged = instructor_id == (session.instructor_id if session is not None else actor.id)
    if unchanged:
        return {}
    if not rules.can_assign_instructor(actor):
        raise Forbidden(_l("Only board members and admins may name another instructor."))
    instructor = db.session.get(User, instructor_id)
    if instructor is None or not instructor.is_active or not has_role(instructor, Role.INSTRUCTOR):
        return {"instructor_id": "Choose an active instructor."}
    return {}


def _changed(session: TrainingSession, clean: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in clean.items() if getattr(session, k) != v}


def _snapshot(session: TrainingSession) -> dict[str, Any]:
    return {field: getattr(session, field) for field in AUDITED_FIELDS}


# ------------------------------------------------------------------------------------------------ create / edit
def create_session(raw: dict[str, Any], *, actor: User, series_id: int | None = None) -> TrainingSession:
    """`series_id`: the occurrence of a training series this session is (training.series makes those)."""
    if not rules.can_create(actor):
        raise Forbidden(_l("Only instructors, board members and admins schedule sessions."))
    clean, errors = check_session_data(raw, actor=actor)
    if errors:
        raise ValidationFailed(errors)
    start, minutes = clean.pop("start_time"), clean.pop("duration_minutes")
    clean.setdefault("instructor_id", actor.id)
    session = TrainingSession(
        **clean, series_id=series_id, status=SessionStatus.SCHEDULED.value, room_status=RoomStatus.PENDING.value
    )
    session.set_schedule(start, minutes)
    db.session.add(session)
    db.session.flush()
    record("session.create", ENTITY, session.id, actor, _snapshot(session))
    enqueue_after_commit(db.session, rooms.provision_room, session.id, **rooms.provision_job_options(session))
    signals.session_created.send(session)
    return session


def update_session(session: TrainingSession, raw: dict[str, Any], *, actor: User) -> TrainingSession:
    if not rules.can_edit(session, actor):
        raise Forbidden(_l("You may only edit your own sessions."))
    require_state(session, "edit")
    clean, errors = check_session_data(raw, actor=actor, session=session)
    if errors:
        raise ValidationFailed(errors)
    before = _snapshot(session)
    for field, value in clean.items():
        if field not in ("start_time", "duration_minutes"):
            setattr(session, field, value)
    session.set_schedule(
        clean.get("start_time", session.start_time), clean.get("duration_minutes", session.duration_minutes)
    )
    _flush_capacity()
    changes = diff(before, _snapshot(session))
    stale = [relation for relation in ("instructor", "event") if f"{relation}_id" in changes]
    if stale:
        db.session.expire(session, stale)  # reloaded on next use, now that the id changed
    if changes:
        record("session.update", ENTITY, session.id, actor, changes)
        signals.session_updated.send(session, changes=changes)
    return session


def _flush_capacity() -> None:
    """A seat taken between the check and this write trips the database's own capacity constraint."""
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        raise ValidationFailed(
            {"capacity": "Seats were taken meanwhile; the capacity cannot be lower than the seats already taken."}
        ) from None


# ------------------------------------------------------------------------------------------------ lifecycle
def require_state(session: TrainingSession, action: str) -> None:
    error = rules.transition_error(session.status, action)
    if error:
        raise Conflict(error)


def cancel_session(session: TrainingSession, *, actor: User) -> TrainingSession:
    if not rules.can_cancel(session, actor):
        raise Forbidden(_l("You may only cancel your own sessions."))
    require_state(session, "cancel")
    session.status = SessionStatus.CANCELED.value
    released = sum(answers(signals.session_canceled.send(session)))
    _close_room(session)
    db.session.flush()
    record(
        "session.cancel",
        ENTITY,
        session.id,
        actor,
        {"status": [SessionStatus.SCHEDULED.value, session.status], "seats_released": released},
    )
    return session


def start_session(session: TrainingSession, *, actor: User) -> TrainingSession:
    if not rules.can_start(session, actor):
        raise Forbidden(_l("Only the session's own instructor can start it."))
    require_state(session, "start")
    require_start_period(session)
    rooms.ensure_room(session)  # a ready room is kept; else once, on the spot; ServiceUnavailable (503) if not there
    session.status = SessionStatus.LIVE.value
    session.started_at = now_utc()
    try:
        rooms.start_recording(session)
    except ServiceUnavailable:
        log.warning("session %s started without its recording: the provider refused", session.id)
    db.session.flush()
    record(
        "session.start",
        ENTITY,
        session.id,
        actor,
        {"status": [SessionStatus.SCHEDULED.value, session.status], "started_at": session.started_at},
    )
    return session


class StartRefused(Conflict):
    """409 too_early_to_start / too_late_to_start: outside the start period."""


def require_start_period(session: TrainingSession) -> None:
    """The start rule (SPEC "Starting"): from the join window's opening until the auto-end deadline; 409 otherwise."""
    settings = rules.start_settings()
    refusal = rules.start_refusal(session, now_utc(), **settings)
    if refusal is None:
        return
    opens_at, closes_at = rules.start_period(session, **settings)
    minutes = int(settings["join_window"].total_seconds() // 60)
    if refusal == rules.TOO_EARLY_TO_START:
        message = f"Too early to start: starting opens at {format_local(opens_at)}, {minutes} minutes before the start."
    else:
        message = f"Too late to start: the session could be started until {format_local(closes_at)}."
    raise StartRefused(message, code=refusal)


def end_session(
    session: TrainingSession, *, actor: User | None, reason: EndReason | str = EndReason.INSTRUCTOR
) -> TrainingSession:
    """End a live session (or, for the worker, one that never started). The meeting ends for everyone."""
    reason = EndReason(reason)
    if actor is not None and not rules.can_end(session, actor):
        raise Forbidden(_l("Only the session's own instructor can end it."))
    error = rules.end_transition_error(session.status, by_system=actor is None, reason=reason)
    if error:
        raise Conflict(error)
    old_status = session.status
    session.status = SessionStatus.ENDED.value
    session.ended_at = now_utc()
    session.end_reason = reason.value
    rooms.stop_recording(session)
    signals.session_ended.send(session)
    _close_room(session)
    db.session.flush()
    record(
        "session.end",
        ENTITY,
        session.id,
        actor,
        {"status": [old_status, session.status], "end_reason": reason.value, "ended_at": session.ended_at},
    )
    return session


def _close_room(session: TrainingSession) -> None:
    """A provider that cannot be reached must not block the change: the daily cleanup closes the room later."""
    try:
        with db.session.begin_nested():
            rooms.deactivate_room(session)
    except ServiceUnavailable:
        log.warning("room of session %s not closed yet; the cleanup job retries", session.id)
