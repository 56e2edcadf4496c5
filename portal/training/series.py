"""Writes of training series: create (its occurrences are ordinary sessions, made through
operations.create_session), edit and cancel with a scope (this / following / all), and making the occurrences
that came within the horizon since. They flush and raise DomainErrors; the caller commits once.

Scope `this` is an ordinary edit or cancel of one occurrence (its own notices); the fields it changed are kept as
that occurrence's own (`overrides`), which later `following`/`all` edits leave alone. Scopes `following` and
`all` run inside signals.series_change() and end with one signals.series_changed, so notices are batched.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from portal.accounts.models import User
from portal.audit.operations import diff, record
from portal.core.clock import now_utc
from portal.core.errors import Forbidden, NotFound, ValidationFailed
from portal.core.i18n import fill
from portal.core.validation import is_id
from portal.events.models import Event
from portal.extensions import db
from portal.training import operations, recurrence, rules, signals
from portal.training.models import SessionStatus, TrainingSession
from portal.training.series_models import TEMPLATE_FIELDS, TrainingSeries

ENTITY = "training_series"
SCOPES = ("this", "following", "all")
NOT_FOUND_MESSAGE = _l("Training series not found.")
# A following/all edit may move the occurrences' wall-clock time (in the series' zone), each on its own date.
LOCAL_TIME = "local_time"
_LOCAL_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


# ------------------------------------------------------------------------------------------------ reading
def get_visible(series_id: int, viewer) -> TrainingSeries:
    """The series if `viewer` may see it (members and above see all; others only public ones); else 404."""
    series = db.session.get(TrainingSeries, series_id) if is_id(series_id) else None
    if series is None or not rules.can_view(series, viewer):
        raise NotFound(NOT_FOUND_MESSAGE)
    return series


def occurrences_of(series: TrainingSeries) -> list[TrainingSession]:
    return list(
        db.session.scalars(
            sa.select(TrainingSession)
            .where(TrainingSession.series_id == series.id)
            .order_by(TrainingSession.start_time, TrainingSession.id)
        )
    )


def local_key(local: datetime) -> str:
    return local.strftime("%Y-%m-%dT%H:%M")


# ------------------------------------------------------------------------------------------------ validation
def check_series_data(
    raw: dict[str, Any], *, actor: User
) -> tuple[recurrence.Rule | None, dict[str, Any], dict[str, str]]:
    """(rule, the occurrences' clean session fields, errors). Every error of the body at once: the rule's fields and the
    session fields, checked as a session at the first occurrence would be (the one validation of sessions)."""
    now = now_utc()
    rule, errors = recurrence.check_rule(raw, now=now)
    session_raw = {key: value for key, value in raw.items() if key not in recurrence.RULE_FIELDS}
    for key in ("assistant_ids", "release_no_shows"):  # a session's own: a series does not carry them
        if key in session_raw:
            errors[key] = _l("Set this on each session of the weekly class, not on the class.")
            session_raw.pop(key)
    if "start_time" in session_raw:
        errors["start_time"] = "A series has first_start (local) and time_zone, not start_time."
        session_raw.pop("start_time")
    first = recurrence.occurrences(rule, now=now)[0].start if rule is not None else now + rules.SCHEDULE_AHEAD / 2
    clean, session_errors = operations.check_session_data({**session_raw, "start_time": first}, actor=actor)
    errors.update(session_errors)
    clean.pop("start_time", None)
    return rule, clean, errors


def _occurrence_raw(session_raw: dict[str, Any], start: datetime) -> dict[str, Any]:
    return {**session_raw, "start_time": start}


# ------------------------------------------------------------------------------------------------ create
def create_series(raw: dict[str, Any], *, actor: User) -> tuple[TrainingSeries, list[TrainingSession]]:
    if not rules.can_create(actor):
        raise Forbidden(_l("Only instructors, board members and admins schedule sessions."))
    rule, clean, errors = check_series_data(raw, actor=actor)
    if errors or rule is None:
        raise ValidationFailed(errors)
    template = {field: clean[field] for field in TEMPLATE_FIELDS if field in clean}
    template.setdefault("instructor_id", actor.id)
    series = TrainingSeries(
        **template,
        first_start=rule.first_start,
        time_zone=rule.time_zone,
        weekdays=",".join(rule.weekdays),
        interval_weeks=rule.interval_weeks,
        count=rule.count,
        until=rule.until,
        instances={},
        canceled=[],
        overrides={},
    )
    db.session.add(series)
    db.session.flush()
    sessions = _make_occurrences(series, actor, now_utc())
    record(
        "series.create",
        ENTITY,
        series.id,
        actor,
        {**template, "rule": rule.rrule_text(), "first_start": local_key(rule.first_start), "zone": rule.time_zone},
    )
    return series, sessions


def _session_raw_of(series: TrainingSeries) -> dict[str, Any]:
    return series.template()


def _make_occurrences(series: TrainingSeries, actor: User, now: datetime) -> list[TrainingSession]:
    """Create the occurrences within the horizon that have no session yet and are not canceled."""
    made = set(series.instances.values()) | set(series.canceled)
    instances = dict(series.instances)
    sessions = []
    for occurrence in recurrence.occurrences(series.rule, now=now):
        key = local_key(occurrence.local)
        if key in made or occurrence.start <= now:
            continue
        session = operations.create_session(
            _occurrence_raw(_session_raw_of(series), occurrence.start), actor=actor, series_id=series.id
        )
        instances[str(session.id)] = key
        sessions.append(session)
    series.instances = instances
    db.session.flush()
    return sessions


def extend_series(series: TrainingSeries, *, now: datetime | None = None) -> list[TrainingSession]:
    """Make the occurrences that came within the horizon since the series was made (a daily job calls this), as
    its instructor. Each is announced by session_created with its series_id: standing bookings take their seats."""
    if series.canceled_at is not None:
        return []
    instructor = db.session.get(User, series.instructor_id)
    if instructor is None:
        return []
    return _make_occurrences(series, instructor, now or now_utc())


def extend_job() -> int:
    """Daily job: every open series makes the occurrences that came within the horizon; one commit per series,
    under the series' row lock, so two runs never make the same occurrence twice. Answers how many were made."""
    ids = db.session.scalars(sa.select(TrainingSeries.id).where(TrainingSeries.canceled_at.is_(None))).all()
    made = 0
    for series_id in ids:
        series = db.session.scalar(
            sa.select(TrainingSeries)
            .where(TrainingSeries.id == series_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if series is not None:
            made += len(extend_series(series))
        db.session.commit()
    return made


# ------------------------------------------------------------------------------------------------ scope
def check_scope(series: TrainingSeries, scope: str | None, from_id: int | None) -> TrainingSession:
    """The occurrence `from` names, once scope and from are right; else ValidationFailed with per-field errors."""
    errors = {}
    if scope not in SCOPES:
        errors["scope"] = fill(_l("Choose the scope: %(scopes)s."), scopes=", ".join(SCOPES))
    session = db.session.get(TrainingSession, from_id) if from_id is not None else None
    if from_id is None:
        errors["from"] = _l("Name the occurrence the change starts from (from = its session id).")
    elif session is None or session.series_id != series.id:
        errors["from"] = _l("That session is not an occurrence of this series.")
    if errors:
        raise ValidationFailed(errors)
    assert session is not None
    return session


def targets(series: TrainingSeries, scope: str, origin: TrainingSession) -> list[TrainingSession]:
    """The occurrences a change with `scope` touches: `origin` alone; it and every later one not over; or every
    occurrence not over (non-final)."""
    if scope == "this":
        return [origin]
    found = [s for s in occurrences_of(series) if not s.is_final]
    if scope == "following":
        found = [s for s in found if (s.start_time, s.id) >= (origin.start_time, origin.id)]
    return found


# ------------------------------------------------------------------------------------------------ edit
def update_series(
    series: TrainingSeries, raw: dict[str, Any], *, scope: str, origin: TrainingSession, actor: User
) -> list[TrainingSession]:
    """Edit `scope` occurrences from `origin`. `this` takes every session field (start_time too); `following` and
    `all` take the series' own fields (TEMPLATE_FIELDS), applied to each occurrence except the fields it changed
    on its own, and kept on the series for occurrences made later."""
    if not rules.can_edit(series, actor):
        raise Forbidden(_l("You may only edit your own series."))
    if scope == "this":
        before = operations._snapshot(origin)
        operations.update_session(origin, raw, actor=actor)
        changed = diff(before, operations._snapshot(origin))
        if changed:
            own = set(series.overrides.get(str(origin.id), [])) | set(changed)
            series.overrides = {**series.overrides, str(origin.id): sorted(own)}
        db.session.flush()
        return [origin]
    raw = dict(raw)
    new_time = _check_local_time(raw)
    unknown = {key: _scope_this_message(key) for key in raw if key not in TEMPLATE_FIELDS and key != LOCAL_TIME}
    if unknown:
        raise ValidationFailed(unknown)
    raw.pop(LOCAL_TIME, None)
    affected = targets(series, scope, origin)
    at = now_utc()
    all_changes: dict[int, dict[str, Any]] = {}
    with signals.series_change():
        if new_time is not None:
            old_time = series.first_start.strftime("%H:%M")
            _move_rule_time(series, new_time)
            if old_time != new_time.strftime("%H:%M"):
                record("series.update", ENTITY, series.id, actor, {LOCAL_TIME: [old_time, new_time.strftime("%H:%M")]})
        for session in affected:
            own = set(series.overrides.get(str(session.id), []))
            part = {key: value for key, value in raw.items() if key not in own}
            if new_time is not None and "start_time" not in own and session.status == SessionStatus.SCHEDULED.value:
                start = _start_at(series, session, new_time)
                if start is not None and start != session.start_time:
                    part["start_time"] = start
            if not part:
                continue
            before = operations._snapshot(session)
            operations.update_session(session, part, actor=actor)
            changes = diff(before, operations._snapshot(session))
            if changes:
                all_changes[session.id] = changes
        _update_template(series, raw, actor)
    db.session.flush()
    changed_sessions = [s for s in affected if s.id in all_changes]
    if changed_sessions:
        signals.series_changed.send(
            series, action="updated", session_ids=[s.id for s in changed_sessions], changes=all_changes, at=at
        )
    return changed_sessions


def _scope_this_message(key: str) -> str:
    if key in ("start_time", "first_start"):
        return (
            "A series keeps its dates: change the date on one occurrence (scope this), or the time of day of the"
            " following or all dates with local_time (HH:MM, in the series' zone)."
        )
    return "Edit this field on one occurrence (scope this)."


def _check_local_time(raw: dict[str, Any]) -> time | None:
    """local_time "HH:MM" (24-hour, the series' zone) of a following/all edit; None when not given."""
    if LOCAL_TIME not in raw:
        return None
    value = raw[LOCAL_TIME]
    match = _LOCAL_TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValidationFailed({LOCAL_TIME: _l("Give the time of day as HH:MM (24-hour, in the series' time zone).")})
    return time(int(match.group(1)), int(match.group(2)))


def _start_at(series: TrainingSeries, session: TrainingSession, new_time: time) -> datetime | None:
    """The occurrence's start on its own rule date at `new_time` in the series' zone (DST kept: the wall clock)."""
    key = series.instances.get(str(session.id))
    if key is None:
        return None
    return recurrence.to_utc(datetime.combine(datetime.fromisoformat(key).date(), new_time), series.time_zone)


def time_of_day(series: TrainingSeries, origin: TrainingSession, new_start: datetime) -> str:
    """A new start of `origin` given for a following/all change (the edit form's date and time) as what such a change
    may move: its wall-clock time "HH:MM" in the series' zone (LOCAL_TIME). A series keeps its dates: a new date is
    ValidationFailed at start_time."""
    zone = ZoneInfo(series.time_zone)
    new_local = new_start.astimezone(zone)
    if new_local.date() != origin.start_time.astimezone(zone).date():
        raise ValidationFailed(
            {
                "start_time": _l(
                    "The date changes one session at a time: choose “This session”. For this and the following or"
                    " all sessions you may change the time of day."
                )
            }
        )
    return new_local.strftime("%H:%M")


def _move_rule_time(series: TrainingSeries, new_time: time) -> None:
    """The rule's wall-clock time becomes `new_time`: occurrences made later start then. Each occurrence's key
    (its rule date-time: the instance's identity, the .ics RECURRENCE-ID and EXDATE) moves with it, so no date is
    made twice; an occurrence left at the old time (before a `following` edit's origin, or past) is an exception
    to the rule, which the series' .ics says with a RECURRENCE-ID."""

    def moved(key: str) -> str:
        return local_key(datetime.combine(datetime.fromisoformat(key).date(), new_time))

    series.first_start = datetime.combine(series.first_start.date(), new_time)
    series.instances = {session_id: moved(key) for session_id, key in series.instances.items()}
    series.canceled = sorted({moved(key) for key in series.canceled})


def _update_template(series: TrainingSeries, raw: dict[str, Any], actor: User) -> None:
    """The series keeps the new values for occurrences made later (checked as a session edit is)."""
    clean, errors = rules.validate_session(raw, now=now_utc(), partial=True)
    if clean.get("event_id") is not None and db.session.get(Event, clean["event_id"]) is None:
        errors["event_id"] = "event not found"
    if "instructor_id" in clean and clean["instructor_id"] != series.instructor_id:
        # the same check as a session's (operations._instructor_errors: Forbidden unless board member or admin)
        errors.update(operations._instructor_errors(clean["instructor_id"], actor, None))
    if errors:
        raise ValidationFailed(errors)
    before = series.template()
    for field, value in clean.items():
        setattr(series, field, value)
    changes = diff(before, series.template())
    if changes:
        record("series.update", ENTITY, series.id, actor, changes)


# ------------------------------------------------------------------------------------------------ cancel
def cancel_series(series: TrainingSeries, *, scope: str, origin: TrainingSession, actor: User) -> list[TrainingSession]:
    """Cancel `scope` occurrences from `origin` (live ones are left to end); their dates become EXDATEs. Scope
    `all` also closes the series: no occurrence is made later."""
    if not rules.can_cancel(series, actor):
        raise Forbidden(_l("You may only cancel your own series."))
    at = now_utc()
    if scope == "this":
        operations.cancel_session(origin, actor=actor)
        canceled = [origin]
    else:
        canceled = [s for s in targets(series, scope, origin) if s.status == SessionStatus.SCHEDULED.value]
        with signals.series_change():
            for session in canceled:
                operations.cancel_session(session, actor=actor)
    keys = [series.instances[str(s.id)] for s in canceled if str(s.id) in series.instances]
    series.canceled = sorted(set(series.canceled) | set(keys))
    if scope == "all":
        series.canceled_at = now_utc()
    if scope == "following":
        _stop_before(series, origin)
    db.session.flush()
    record("series.cancel", ENTITY, series.id, actor, {"scope": scope, "dates": keys})
    if scope != "this" and canceled:
        signals.series_changed.send(series, action="canceled", session_ids=[s.id for s in canceled], changes={}, at=at)
    return canceled


def _stop_before(series: TrainingSeries, origin: TrainingSession) -> None:
    """Canceling `following` ends the rule before `origin`'s date: no later occurrence is made by extend_series.
    The rule's until becomes the day before (count is dropped for it)."""
    key = series.instances.get(str(origin.id))
    if key is None:
        return
    last_day = datetime.fromisoformat(key).date().toordinal() - 1
    if last_day < series.first_start.date().toordinal():
        series.canceled_at = now_utc()
        return
    series.until = datetime.fromordinal(last_day).date()
    series.count = None
