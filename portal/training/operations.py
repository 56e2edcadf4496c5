"""Writes of training sessions: schedule, edit, cancel, start, end. Shared by the HTML views, the JSON API, the
jobs and the CLI. They flush and raise DomainErrors; the caller commits once. Every change is audited.

`actor=None` means the system (a worker): only `end_session` accepts it.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from portal.accounts.models import User
from portal.accounts.roles import Role, has_role
from portal.audit.operations import diff, record
from portal.core.clock import now_utc
from portal.core.errors import Conflict, Forbidden, ServiceUnavailable, ValidationFailed
from portal.core.i18n import fill
from portal.core.queue import enqueue_after_commit
from portal.core.signals import answers
from portal.core.timezones import format_local
from portal.core.validation import is_id
from portal.events.models import Event
from portal.extensions import db
from portal.training import rooms, rules, signals
from portal.training.models import (
    MAX_ASSISTANTS,
    EndReason,
    RoomStatus,
    SessionAssistant,
    SessionStatus,
    TrainingSession,
)

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
    if "assistant_ids" in clean and "assistant_ids" not in errors:
        lead_id = clean.get("instructor_id", session.instructor_id if session is not None else actor.id)
        errors.update(_assistant_errors(clean["assistant_ids"], lead_id, session))
    if session is not None:
        errors.update(rules.live_edit_error(_changed(session, clean), session.status))
    return clean, errors


def _instructor_errors(instructor_id: int, actor: User, session: TrainingSession | None) -> dict[str, str]:
    """Naming another lead: for a new session board members and admins only; for a stored one whoever may hand
    it over (its lead, board members, admins: rules.can_hand_over). 403 for anyone else."""
    unchanged = instructor_id == (session.instructor_id if session is not None else actor.id)
    if unchanged:
        return {}
    allowed = rules.can_hand_over(session, actor) if session is not None else rules.can_assign_instructor(actor)
    if not allowed:
        raise Forbidden(_l("Only the lead instructor, board members and admins may name another lead."))
    if not _is_active_instructor(instructor_id):
        return {"instructor_id": _l("Choose an active instructor.")}
    return {}


def _is_active_instructor(user_id: int) -> bool:
    user = db.session.get(User, user_id)
    return user is not None and user.is_active and has_role(user, Role.INSTRUCTOR)


def _assistant_errors(assistant_ids: list[int], lead_id: int, session: TrainingSession | None) -> dict[str, str]:
    """Active instructors, not the lead (rules.assistant_errors): the users are read in one query."""
    if session is not None and assistant_ids == session.assistant_ids and lead_id == session.instructor_id:
        return {}  # unchanged: an assistant demoted since does not block an edit of the title
    instructor_ids: set[int] = set()
    if assistant_ids:
        roles = [role.value for role in Role if role.at_least(Role.INSTRUCTOR)]
        instructor_ids = set(
            db.session.scalars(
                sa.select(User.id).where(User.id.in_(assistant_ids), User.is_active.is_(True), User.role.in_(roles))
            )
        )
    return rules.assistant_errors(assistant_ids, lead_id=lead_id, instructor_ids=instructor_ids)


def _set_assistants(session: TrainingSession, assistant_ids: list[int]) -> None:
    """Replace the session's assistants (rows of session_assistants): the rows of those no longer named are
    deleted, rows for the new ones added. The session's row is locked first (PostgreSQL), so two editors write one
    after the other."""
    wanted = sorted(assistant_ids)
    if wanted == session.assistant_ids:
        return
    db.session.execute(sa.select(TrainingSession.id).where(TrainingSession.id == session.id).with_for_update())
    db.session.expire(session, ["assistants"])
    current = session.assistant_ids  # as of the lock
    gone = [user_id for user_id in current if user_id not in wanted]
    if gone:
        db.session.execute(
            sa.delete(SessionAssistant).where(
                SessionAssistant.session_id == session.id, SessionAssistant.user_id.in_(gone)
            )
        )
    db.session.add_all(
        SessionAssistant(session_id=session.id, user_id=user_id) for user_id in wanted if user_id not in current
    )
    db.session.flush()
    db.session.expire(session, ["assistants"])


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
    assistant_ids = clean.pop("assistant_ids", [])
    clean.setdefault("instructor_id", actor.id)
    session = TrainingSession(
        **clean, series_id=series_id, status=SessionStatus.SCHEDULED.value, room_status=RoomStatus.PENDING.value
    )
    session.set_schedule(start, minutes)
    db.session.add(session)
    db.session.flush()
    if assistant_ids:
        _set_assistants(session, assistant_ids)
    record("session.create", ENTITY, session.id, actor, _snapshot(session))
    enqueue_after_commit(db.session, rooms.provision_room, session.id, **rooms.provision_job_options(session))
    signals.session_created.send(session)
    return session


def update_session(session: TrainingSession, raw: dict[str, Any], *, actor: User) -> TrainingSession:
    """An edit by one of the session's instructors, a board member or an admin. A new `instructor_id` is a
    handover (see hand_over): the new lead leaves the assistants, and lead_changed is sent."""
    if not rules.can_edit(session, actor):
        raise Forbidden(_l("You may only edit sessions you teach."))
    require_state(session, "edit")
    clean, errors = check_session_data(raw, actor=actor, session=session)
    if errors:
        raise ValidationFailed(errors)
    before = _snapshot(session)
    old_lead_id = session.instructor_id
    assistant_ids = clean.pop("assistant_ids", session.assistant_ids)
    for field, value in clean.items():
        if field not in ("start_time", "duration_minutes"):
            setattr(session, field, value)
    session.set_schedule(
        clean.get("start_time", session.start_time), clean.get("duration_minutes", session.duration_minutes)
    )
    _set_assistants(session, [user_id for user_id in assistant_ids if user_id != session.instructor_id])
    _flush_capacity()
    changes = diff(before, _snapshot(session))
    stale = [relation for relation in ("instructor", "event") if f"{relation}_id" in changes]
    if stale:
        db.session.expire(session, stale)  # reloaded on next use, now that the id changed
    if changes:
        record("session.update", ENTITY, session.id, actor, changes)
        signals.session_updated.send(session, changes=changes)
    if session.instructor_id != old_lead_id:
        _send_lead_changed(session, old_lead_id, actor)
    return session


def hand_over(
    session: TrainingSession, new_lead_id: Any, *, actor: User, keep_as_assistant: bool = False
) -> TrainingSession:
    """A substitute: `new_lead_id` (an active instructor) leads the session from now on. Its lead, board members
    and admins may do this (403 otherwise), while the session is scheduled or live (409). The new lead leaves the
    assistants if they were one; the old lead stays on as an assistant only when `keep_as_assistant` (else they
    are no longer among its instructors). Audited, and lead_changed tells the seat holders (notifications)."""
    if not rules.can_hand_over(session, actor):
        raise Forbidden(_l("Only the lead instructor, board members and admins may hand a session over."))
    require_state(session, "edit")
    errors: dict[str, Any] = {}
    if not is_id(new_lead_id):
        errors["instructor_id"] = _l("Choose the instructor who takes over, by their user id.")
    elif new_lead_id == session.instructor_id:
        errors["instructor_id"] = _l("They already lead this session; choose another instructor.")
    elif not _is_active_instructor(new_lead_id):
        errors["instructor_id"] = _l("Choose an active instructor.")
    if not isinstance(keep_as_assistant, bool):
        errors["keep_as_assistant"] = _l("Must be true or false.")
    assistants = [user_id for user_id in session.assistant_ids if user_id != new_lead_id]
    if not errors and keep_as_assistant:
        if len(assistants) >= MAX_ASSISTANTS:
            errors["keep_as_assistant"] = fill(
                _l("The session already has %(num)d assistants: the previous lead cannot stay on as one."),
                num=MAX_ASSISTANTS,
            )
        assistants.append(session.instructor_id)
    if errors:
        raise ValidationFailed(errors)
    old_lead_id, old_assistants = session.instructor_id, session.assistant_ids
    session.instructor_id = new_lead_id
    _set_assistants(session, assistants)
    db.session.flush()
    db.session.expire(session, ["instructor"])
    record(
        "session.hand_over",
        ENTITY,
        session.id,
        actor,
        {"instructor_id": [old_lead_id, new_lead_id], "assistant_ids": [old_assistants, session.assistant_ids]},
    )
    _send_lead_changed(session, old_lead_id, actor)
    return session


def _send_lead_changed(session: TrainingSession, old_lead_id: int, actor: User) -> None:
    """lead_changed with the actor itself (not the request's current_user proxy, which a receiver may keep)."""
    actor = getattr(actor, "_get_current_object", lambda: actor)()
    signals.lead_changed.send(session, old_lead_id=old_lead_id, new_lead_id=session.instructor_id, actor=actor)


def _flush_capacity() -> None:
    """A seat taken between the check and this write trips the database's own capacity constraint."""
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        raise ValidationFailed(
            {"capacity": _l("Seats were taken meanwhile; the capacity cannot be lower than the seats already taken.")}
        ) from None


# ------------------------------------------------------------------------------------------------ lifecycle
def require_state(session: TrainingSession, action: str) -> None:
    error = rules.transition_error(session.status, action)
    if error:
        raise Conflict(error)


def cancel_session(session: TrainingSession, *, actor: User) -> TrainingSession:
    if not rules.can_cancel(session, actor):
        raise Forbidden(_l("You may only cancel sessions you teach."))
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
        raise Forbidden(_l("Only the session's instructors can start it."))
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
        message = fill(
            _l("Too early to start: starting opens at %(when)s, %(minutes)d minutes before the start."),
            when=LazyString(format_local, opens_at),
            minutes=minutes,
        )
    else:
        message = fill(
            _l("Too late to start: the session could be started until %(when)s."),
            when=LazyString(format_local, closes_at),
        )
    raise StartRefused(message, code=refusal)


def end_session(
    session: TrainingSession, *, actor: User | None, reason: EndReason | str = EndReason.INSTRUCTOR
) -> TrainingSession:
    """End a live session (or, for the worker, one that never started). The meeting ends for everyone."""
    reason = EndReason(reason)
    if actor is not None and not rules.can_end(session, actor):
        raise Forbidden(_l("Only the session's instructors can end it."))
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
