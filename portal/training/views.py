"""Pages of training sessions: home, list, session page, scheduling and edit forms, lifecycle buttons, my sessions.

Thin: load, check access (in Python), call the operation, commit once, redirect (PRG) or re-render with errors.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from portal.accounts.auth import require_role
from portal.accounts.models import User
from portal.accounts.roles import ROLES, Role
from portal.core.clock import now_utc
from portal.core.errors import Forbidden, ServiceUnavailable, ValidationFailed
from portal.core.forms import form_values as submitted_values
from portal.core.signals import answers
from portal.core.timezones import all_timezones, format_local, viewer_timezone
from portal.core.validation import EARLIEST, LATEST, MAX_ID, OUT_OF_CALENDAR, storable_text, whole_number
from portal.core.web import expose_to_templates, no_store
from portal.events import queries as events
from portal.events import rules as event_rules
from portal.extensions import db
from portal.training import forms, operations, queries, recurrence, rooms, rules, series, signals
from portal.training.models import MAX_ASSISTANTS, RoomStatus, SessionStatus, TrainingSession
from portal.training.series_models import TEMPLATE_FIELDS, TrainingSeries
from portal.video.models import RecordingStatus

bp = Blueprint("training", __name__)
expose_to_templates(bp, SessionStatus, RoomStatus, RecordingStatus)


@bp.app_context_processor
def viewer_may_with_sessions():
    """Every page's `may_sessions` (the home, the lists and the event page offer scheduling)."""
    return {"may_sessions": rules.may_sessions(current_user)}


# ------------------------------------------------------------------------------------------------ reading
def _shown(sessions: list[TrainingSession]) -> dict[str, Any]:
    """What the packages above training add to a page that lists `sessions` (their join panels)."""
    context: dict[str, Any] = {"panels": {}}
    for part in answers(signals.sessions_shown.send(sessions, viewer=current_user)):
        context.update(part)
    return context


@bp.get("/", endpoint="home")
def home():
    now = now_utc()
    sessions = queries.upcoming(current_user, now=now, limit=12)
    return render_template(
        "home.html",
        sessions=sessions,
        **_shown(sessions),
        events=events.upcoming(current_user, now=now, limit=6),
    )


# Lists are read a page at a time (LIMIT/OFFSET along an index: a page reads its rows and those of the pages before
# it, never the whole list) with "next page" links instead of a count: history does not slow them.
PAGE_SIZE = 50
LAST_PAGE = 1000


def _page_number() -> int:
    """The `page` query parameter (1, 2, ...); anything else is the first page."""
    raw = request.args.get("page", "")
    return int(raw) if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= LAST_PAGE else 1


def _page_of(fetch, page: int, **kwargs: Any) -> tuple[list[TrainingSession], bool]:
    """Page `page` of `fetch(limit=, offset=, **kwargs)`, and whether another page follows (one row more is read)."""
    rows = fetch(limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE, **kwargs)
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


# ---------------------------------------------------------------- finding sessions (issue 11): the pages' filters
FILTER_FIELDS = ("q", "tag", "instructor_id", "event_id", "series_id", "status", "from", "to")


def _local_day(text: str, zone: ZoneInfo, *, shift: int = 0) -> datetime:
    """Midnight (or the first moment) of a YYYY-MM-DD day in `zone`, `shift` days on, as aware UTC; ValueError
    with a message when it is no date or beyond the calendar the portal keeps."""
    if not (len(text) == 10 and text[4] == text[7] == "-" and text.replace("-", "").isdigit()):
        raise ValueError(gettext("Give a date as YYYY-MM-DD."))
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(gettext("No such date.")) from None
    if not EARLIEST.year < day.year < LATEST.year - 1:
        raise ValueError(OUT_OF_CALENDAR)
    return datetime.combine(day + timedelta(days=shift), time(), zone).astimezone(UTC)


def _finding_filters(zone: ZoneInfo) -> tuple[queries.SessionFilters, dict[str, Any], dict[str, str]]:
    """The filter form's filters, the values to show back in it, and a message per malformed field. Empty fields
    are ignored; `from` and `to` are days in the viewer's zone, `to` included."""
    args = request.args
    values: dict[str, Any] = {name: args.get(name, "").strip() for name in FILTER_FIELDS}
    values["tag"] = ", ".join(dict.fromkeys(tag for raw in args.getlist("tag") for tag in rules.split_tags(raw)))
    errors: dict[str, str] = {}
    found: dict[str, Any] = {}
    if len(values["q"]) > queries.Q_MAX or not storable_text(values["q"]):
        errors["q"] = gettext("Search for at most %(num)d characters of text.", num=queries.Q_MAX)
    else:
        found["words"] = queries.search_words(values["q"])
    tags, problem = rules.check_tags(rules.split_tags(values["tag"]))
    if problem:
        errors["tag"] = problem
    else:
        found["tags"] = tuple(tags or ())
    for name in ("instructor_id", "event_id", "series_id"):
        raw = values[name]
        number = whole_number(raw) if raw else None
        if raw and (number is None or not 1 <= number <= MAX_ID):
            errors[name] = (
                gettext("Choose one from the list.") if name != "series_id" else gettext("A series is a whole number.")
            )
        elif number is not None:
            found[name] = number
    if values["status"]:
        if values["status"] in {status.value for status in SessionStatus}:
            found["status"] = values["status"]
        else:
            errors["status"] = gettext("Choose a status from the list.")
    for name, key, shift in (("from", "start_from", 0), ("to", "start_to", 1)):
        raw = values[name]
        if not raw:
            continue
        try:
            found[key] = _local_day(raw, zone, shift=shift)
        except ValueError as problem:
            errors[name] = str(problem)
    if found.get("start_from") and found.get("start_to") and found["start_to"] <= found["start_from"]:
        errors["to"] = gettext("Give a last day on or after the first day.")
    return queries.SessionFilters(**found), values, errors


def _filter_form(values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """What the filter form of the list and the week view shows: its values and errors, the filters the page's
    links keep (only the ones given, as given), and its pickers: instructors and events for members (who see
    them all); others type ids."""
    kept = {name: value for name, value in values.items() if value}
    form = {"values": values, "errors": errors, "kept": kept, "filtered": bool(kept), "statuses": list(SessionStatus)}
    if not rules.can_view_all(current_user):
        return form | {"filter_instructors": None, "filter_events": None}
    return form | {"filter_instructors": _instructors(), "filter_events": events.choices()}


@bp.get("/sessions", endpoint="index")
def index():
    show_past = request.args.get("past") == "1"
    page = _page_number()
    filters, values, errors = _finding_filters(viewer_timezone())
    sessions, more = [], False
    if not errors:
        fetch = queries.past if show_past else queries.upcoming
        sessions, more = _page_of(fetch, page, viewer=current_user, now=now_utc(), filters=filters)
    page_html = render_template(
        "training/index.html",
        sessions=sessions,
        show_past=show_past,
        page=page,
        more=more,
        **_filter_form(values, errors),
        **_shown(sessions),
    )
    return (page_html, 400) if errors else page_html


# ---------------------------------------------------------------- the week view (timetable)
def _week_start(zone: ZoneInfo) -> tuple[date, str | None]:
    """The Monday of the asked week (`?week=2026-W49` or `?start=YYYY-MM-DD`, any day of it), else this week's in
    the viewer's zone; and a message when the asked week is malformed (this week is shown then)."""
    today = now_utc().astimezone(zone).date()
    week, start = request.args.get("week", "").strip(), request.args.get("start", "").strip()
    try:
        if week:
            year, _, number = week.partition("-W")
            if not (len(year) == 4 and year.isdigit() and len(number) == 2 and number.isdigit()):
                raise ValueError
            day = date.fromisocalendar(int(year), int(number), 1)
        elif start:
            if not (len(start) == 10 and start[4] == start[7] == "-" and start.replace("-", "").isdigit()):
                raise ValueError
            day = date.fromisoformat(start)
        else:
            day = today
        if not EARLIEST.year < day.year < LATEST.year - 1:
            raise ValueError
    except ValueError:
        return today - timedelta(days=today.weekday()), "Give a week as 2026-W49 or a day as YYYY-MM-DD."
    return day - timedelta(days=day.weekday()), None


@bp.get("/timetable", endpoint="week")
def week():
    """One week, Monday to Sunday in the viewer's zone, as a grid of days (a list of days on narrow screens), with
    the filters of /sessions. Each session is on the local day it starts."""
    zone = viewer_timezone()
    monday, week_error = _week_start(zone)
    filters, values, errors = _finding_filters(zone)
    if week_error:
        errors["week"] = week_error
    days = [monday + timedelta(days=offset) for offset in range(7)]
    start = datetime.combine(monday, time(), zone).astimezone(UTC)
    end = datetime.combine(monday + timedelta(days=7), time(), zone).astimezone(UTC)
    # the list's own from/to narrow the week further (they never widen it)
    filters = replace(
        filters,
        start_from=max(start, filters.start_from) if filters.start_from else start,
        start_to=min(end, filters.start_to) if filters.start_to else end,
    )
    sessions: list[TrainingSession] = []
    if not errors or set(errors) == {"week"}:
        sessions = queries.in_week(current_user, start, end, filters)
    cut = len(sessions) > queries.WEEK_LIMIT
    sessions = sessions[: queries.WEEK_LIMIT]
    by_day: dict[date, list[TrainingSession]] = {day: [] for day in days}
    for session in sessions:
        local_day = session.start_time.astimezone(zone).date()
        if local_day in by_day:
            by_day[local_day].append(session)
    page_html = render_template(
        "training/timetable.html",
        zone=zone,
        days=days,
        by_day=by_day,
        cut=cut,
        today=now_utc().astimezone(zone).date(),
        week_label=f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}",
        previous_week=_iso_week(monday - timedelta(days=7)),
        next_week=_iso_week(monday + timedelta(days=7)),
        **_filter_form(values, errors),
    )
    return (page_html, 400) if errors else page_html


def _iso_week(day: date) -> str:
    year, number, _ = day.isocalendar()
    return f"{year}-W{number:02d}"


@bp.get("/sessions/<int:session_id>", endpoint="detail")
def detail(session_id: int):
    session = queries.get_visible(session_id, current_user)
    context = _session_context(session)
    page = render_template("training/session.html", **context)
    # the recording's watch route is shown only to those who may watch it: no cache may keep the page for anyone else
    return no_store(page, private=True) if context["recording_link"] else page


def _session_context(session: TrainingSession, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "session": session,
        "series": _series_of(session),
        "event": session.event if session.event and event_rules.can_view(session.event, current_user) else None,
        "recording_link": rooms.recording_link(session, current_user),
        "may": {
            **rules.allowed_actions(session, current_user),
            "watch": rules.can_watch_recording(session, current_user),
        },
        "assistants": list(session.assistants),
        "hand_over_errors": {},
        "hand_over_values": {},
    }
    if context["may"]["hand_over"]:
        context["substitutes"] = [person for person in _instructors() if person.id != session.instructor_id]
    context.update(extra)
    for part in answers(signals.session_page.send(session, viewer=current_user)):
        context.update(part)
    return context


@bp.get("/my/sessions", endpoint="my_sessions")
@require_role(Role.INSTRUCTOR)
def my_sessions():
    """What the instructor teaches (leads or assists): the next sessions (the first PAGE_SIZE), then the past a
    page at a time."""
    include_archived = request.args.get("archived") == "1"
    page = _page_number()
    now = now_utc()
    # the sessions they lead or assist; the page says which, from instructor_id: no assistants are loaded
    mine = {"viewer": current_user, "now": now, "teacher_id": current_user.id, "with_assistants": False}
    upcoming, more_upcoming = _page_of(queries.upcoming, 1, **mine)
    past, more = _page_of(queries.past, page, include_archived=include_archived, **mine)
    return render_template(
        "training/my_sessions.html",
        now=now,
        upcoming=upcoming,
        more_upcoming=more_upcoming,
        past=past,
        page=page,
        more=more,
        include_archived=include_archived,
    )


# ------------------------------------------------------------------------------------------------ forms
def _form_context(**extra: Any) -> dict[str, Any]:
    instructors = _instructors()  # the lead's picker (board and admins) and the assistants' checkboxes
    context = {
        "timezones": all_timezones(),
        "weekdays": recurrence.WEEKDAYS,
        "scopes": forms.SERIES_SCOPES,
        "series": None,
        "preview": None,
        "events": events.choices(),
        "instructors": instructors if rules.can_assign_instructor(current_user) else None,
        "assistant_choices": instructors,
        "max_assistants": MAX_ASSISTANTS,
    }
    return {**context, **extra}


def _instructors() -> list[User]:
    roles = [r.value for r in ROLES if r.at_least(Role.INSTRUCTOR)]
    return list(
        db.session.scalars(select(User).where(User.role.in_(roles), User.is_active.is_(True)).order_by(User.name))
    )


def _invalid(template: str, errors: dict[str, str], **context: Any):
    db.session.rollback()
    return render_template(template, errors=errors, values=submitted_values(), **_form_context(**context)), 422


@bp.get("/sessions/new", endpoint="new")
@require_role(Role.INSTRUCTOR)
def new():
    values = {**forms.new_values(viewer_timezone().key), "instructor_id": current_user.id}
    if request.args.get("event_id", "").isdigit():
        values["event_id"] = request.args["event_id"]
    return render_template("training/form.html", errors={}, values=values, session=None, **_form_context())


@bp.post("/sessions/new", endpoint="create")
@require_role(Role.INSTRUCTOR)
def create():
    data, form_errors = forms.session_data(request.form, allow_instructor=rules.can_assign_instructor(current_user))
    if forms.repeats(request.form) or "preview" in request.form:
        return _create_series(data, form_errors)
    try:
        if form_errors:
            _, errors = operations.check_session_data(data, actor=current_user)
            raise ValidationFailed({**errors, **form_errors})
        session = operations.create_session(data, actor=current_user)
    except ValidationFailed as exc:
        return _invalid("training/form.html", exc.fields, session=None)
    flash(gettext("“%(title)s” is scheduled. Its video room is being prepared.", title=session.title), "success")
    return redirect(url_for("training.detail", session_id=session.id))


def _create_series(data: dict[str, Any], form_errors: dict[str, str]):
    """The "Repeats weekly" part: preview the dates (nothing stored) or create the series; errors at their fields."""
    preview = "preview" in request.form
    data.pop("start_time", None)  # a series has its local first start (the form's date and time) and zone
    form_errors.pop("start_time", None)
    form_errors.update(_per_session_only(data, {"assistant_ids": [], "release_no_shows": False}))
    rule_raw, rule_form_errors = forms.rule_data(request.form)
    raw = {**data, **rule_raw}
    rule, _clean, errors = series.check_series_data(raw, actor=current_user)
    errors = {**forms.rule_errors_at_fields(errors), **form_errors, **rule_form_errors}
    if preview or errors:
        db.session.rollback()
        values = {**submitted_values(), "repeats": "on"}
        shown = _preview(rule) if rule is not None and not rule_form_errors else None
        page = render_template(
            "training/form.html", errors=errors, values=values, **_form_context(session=None, preview=shown)
        )
        return page, 422 if errors else 200
    try:
        made, sessions = series.create_series(raw, actor=current_user)
    except ValidationFailed as exc:
        return _invalid("training/form.html", forms.rule_errors_at_fields(exc.fields), session=None)
    if not sessions:
        flash(gettext("Weekly class created; its sessions are added as they come within 365 days."), "success")
        return redirect(url_for("training.index"))
    zone = ZoneInfo(made.time_zone)
    first, last = (s.start_time.astimezone(zone) for s in (sessions[0], sessions[-1]))
    flash(
        ngettext(
            "Weekly class created: %(num)d session from %(first)s to %(last)s (%(zone)s).",
            "Weekly class created: %(num)d sessions from %(first)s to %(last)s (%(zone)s).",
            len(sessions),
            first=format_local(first, zone, "date"),
            last=format_local(last, zone, "date"),
            zone=made.time_zone,
        ),
        "success",
    )
    return redirect(url_for("training.detail", session_id=sessions[0].id))


# The fields a weekly class does not carry for its sessions: each session has its own.
PER_SESSION_MESSAGES = {
    "assistant_ids": _l("Assistants are chosen one session at a time: add them to each session once it is scheduled."),
    "release_no_shows": _l("Releasing no-shows' seats is set one session at a time: set it on each session."),
}


def _per_session_only(data: dict[str, Any], unchanged: dict[str, Any]) -> dict[str, str]:
    """An error at each per-session field (assistants, release of no-shows) set otherwise than `unchanged` in a
    change of a whole series; the fields are taken out of `data` (a series never stores them)."""
    errors = {}
    for key, message in PER_SESSION_MESSAGES.items():
        if key not in data:
            continue
        value = data.pop(key)
        if (sorted(value) if isinstance(value, list) else value) != unchanged[key]:
            errors[key] = message
    return errors


def _preview(rule: recurrence.Rule) -> dict[str, Any]:
    """The dates a rule makes, shown in its zone; a local time the clocks skip is moved forward (said so)."""
    now = now_utc()
    zone = ZoneInfo(rule.time_zone)
    items = []
    for occurrence in recurrence.occurrences(rule, now=now):
        shown: datetime = occurrence.start.astimezone(zone)
        moved = shown.replace(tzinfo=None) != occurrence.local
        items.append({"local": occurrence.local, "shown": shown, "moved": moved})
    return {"zone": rule.time_zone, "items": items, "later": recurrence.beyond_horizon(rule, now=now)}


def _series_of(session: TrainingSession) -> TrainingSeries | None:
    return db.session.get(TrainingSeries, session.series_id) if session.series_id is not None else None


def _editable(session_id: int) -> TrainingSession:
    session = queries.get_visible(session_id, current_user)
    if not rules.can_edit(session, current_user):
        raise Forbidden(_l("You may only change your own sessions."))
    return session


@bp.get("/sessions/<int:session_id>/edit", endpoint="edit")
@require_role(Role.INSTRUCTOR)
def edit(session_id: int):
    session = _editable(session_id)
    operations.require_state(session, "edit")
    values = {**forms.form_values(session, viewer_timezone().key), "scope": "this"}
    return render_template(
        "training/form.html", errors={}, values=values, **_form_context(session=session, series=_series_of(session))
    )


@bp.post("/sessions/<int:session_id>/edit", endpoint="update")
@require_role(Role.INSTRUCTOR)
def update(session_id: int):
    session = _editable(session_id)
    the_series = _series_of(session)
    data, form_errors = forms.session_data(request.form, allow_instructor=rules.can_assign_instructor(current_user))
    if data.get("start_time") == session.start_time.replace(second=0, microsecond=0):
        data["start_time"] = session.start_time  # shown to the minute; unchanged
    try:
        if the_series is not None:
            scope = request.form.get("scope", "this")
            series.check_scope(the_series, scope, session.id)
            if scope != "this":
                return _update_series(session, the_series, scope, data, form_errors)
        if form_errors:
            operations.require_state(session, "edit")
            _, errors = operations.check_session_data(data, actor=current_user, session=session)
            raise ValidationFailed({**errors, **form_errors})
        if the_series is not None:
            series.update_series(the_series, data, scope="this", origin=session, actor=current_user)
        else:
            operations.update_session(session, data, actor=current_user)
    except ValidationFailed as exc:
        return _invalid("training/form.html", exc.fields, session=session, series=the_series)
    flash(gettext("Your changes are saved."), "success")
    return redirect(url_for("training.detail", session_id=session.id))


def _update_series(
    session: TrainingSession, the_series: TrainingSeries, scope: str, data: dict[str, Any], form_errors: dict[str, str]
):
    """Scope following/all: the series' own fields that differ from this session's go to every occurrence in scope
    (each keeps what was changed on it alone). A new time of day on the same date moves every occurrence in scope to
    that wall-clock time in the series' zone (series.LOCAL_TIME); the date changes one session at a time."""
    operations.require_state(session, "edit")
    errors = {key: message for key, message in form_errors.items() if key in TEMPLATE_FIELDS}
    errors.update(
        _per_session_only(data, {"assistant_ids": session.assistant_ids, "release_no_shows": session.release_no_shows})
    )
    local_time = None
    if isinstance(data.get("start_time"), datetime) and data["start_time"] != session.start_time:
        try:
            local_time = series.time_of_day(the_series, session, data["start_time"])
        except ValidationFailed as exc:
            errors.update(exc.fields)
    if errors:
        raise ValidationFailed(errors)
    changed = {key: value for key, value in data.items() if key in TEMPLATE_FIELDS and value != getattr(session, key)}
    if local_time is not None:
        changed[series.LOCAL_TIME] = local_time
    affected = series.update_series(the_series, changed, scope=scope, origin=session, actor=current_user)
    count = len(affected)
    flash(
        ngettext(
            "Your changes are saved for %(num)d session of the series.",
            "Your changes are saved for %(num)d sessions of the series.",
            count,
        ),
        "success",
    )
    return redirect(url_for("training.detail", session_id=session.id))


# ------------------------------------------------------------------------------------------------ lifecycle
@bp.get("/sessions/<int:session_id>/cancel", endpoint="confirm_cancel")
@require_role(Role.INSTRUCTOR)
def confirm_cancel(session_id: int):
    session = _editable(session_id)
    operations.require_state(session, "cancel")
    return render_template(
        "training/cancel.html", session=session, series=_series_of(session), errors={}, values={"scope": "this"}
    )


@bp.post("/sessions/<int:session_id>/cancel", endpoint="cancel")
@require_role(Role.INSTRUCTOR)
def cancel(session_id: int):
    session = queries.get_visible(session_id, current_user)
    the_series = _series_of(session)
    if the_series is None:
        operations.cancel_session(session, actor=current_user)
        flash(gettext("“%(title)s” is canceled. Seat holders are told by email.", title=session.title), "success")
        return redirect(url_for("training.detail", session_id=session.id))
    scope = request.form.get("scope", "this")
    try:
        origin = series.check_scope(the_series, scope, session.id)
    except ValidationFailed as exc:
        db.session.rollback()
        page = render_template(
            "training/cancel.html", session=session, series=the_series, errors=exc.fields, values=submitted_values()
        )
        return page, 422
    canceled = series.cancel_series(the_series, scope=scope, origin=origin, actor=current_user)
    count = len(canceled)
    flash(
        ngettext(
            "%(num)d session is canceled. Seat holders are told by email.",
            "%(num)d sessions are canceled. Seat holders are told by email.",
            count,
        ),
        "success",
    )
    return redirect(url_for("training.detail", session_id=session.id))


@bp.post("/sessions/<int:session_id>/lead", endpoint="hand_over")
@require_role(Role.INSTRUCTOR)
def hand_over(session_id: int):
    """The "Hand over to…" form of the session page: a substitute leads the session from now on."""
    session = queries.get_visible(session_id, current_user)
    if not rules.can_hand_over(session, current_user):
        raise Forbidden(_l("Only the lead instructor, board members and admins may hand a session over."))
    new_lead_id, error = forms.read_user_id(request.form.get("instructor_id", ""))
    try:
        if error:
            raise ValidationFailed({"instructor_id": error})
        operations.hand_over(
            session, new_lead_id, actor=current_user, keep_as_assistant=request.form.get("keep_as_assistant") == "on"
        )
    except ValidationFailed as exc:
        db.session.rollback()
        page = render_template(
            "training/session.html",
            **_session_context(session, hand_over_errors=exc.fields, hand_over_values=submitted_values()),
        )
        return page, 422
    flash(
        gettext(
            "%(name)s now leads “%(title)s”. Seat holders are told.", name=session.instructor.name, title=session.title
        ),
        "success",
    )
    return redirect(url_for("training.detail", session_id=session.id))


@bp.post("/sessions/<int:session_id>/start", endpoint="start")
@require_role(Role.INSTRUCTOR)
def start(session_id: int):
    session = queries.get_visible(session_id, current_user)
    try:
        operations.start_session(session, actor=current_user)
    except operations.StartRefused as exc:  # the start rule: before the window or past the deadline
        flash(exc.message, "error")
        return redirect(url_for("training.detail", session_id=session.id))
    except ServiceUnavailable as exc:
        flash(gettext("The session was not started: %(reason)s", reason=exc.message), "error")
        return redirect(url_for("training.detail", session_id=session.id))
    flash(gettext("The session is live. Members can join now."), "success")
    return redirect(url_for("training.detail", session_id=session.id))


@bp.post("/sessions/<int:session_id>/end", endpoint="end")
@require_role(Role.INSTRUCTOR)
def end(session_id: int):
    session = queries.get_visible(session_id, current_user)
    operations.end_session(session, actor=current_user)
    flash(gettext("The session has ended; the room is closed for everyone."), "success")
    return redirect(url_for("training.detail", session_id=session.id))
