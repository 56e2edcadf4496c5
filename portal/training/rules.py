"""Pure rules of training sessions: field validation, who may do what, and which state changes are allowed.

Every function takes plain values (and `now` where time matters) and touches neither the database nor the request.
Validation returns (clean values, errors) where errors maps field name -> a message a person can act on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l

from portal.accounts.roles import Role, has_role
from portal.config import current_settings
from portal.core.clock import now_utc
from portal.core.i18n import fill
from portal.core.validation import (
    check_long_text,
    is_id,
    is_int,
    parse_aware_datetime,
    put,
    storable_text,
    unstorable_text_message,
)
from portal.training.models import MAX_ASSISTANTS, EndReason, SessionStatus

TITLE_MAX = 200
DESCRIPTION_MAX = 5000
DURATION_MIN, DURATION_MAX = 15, 480
CAPACITY_MIN, CAPACITY_MAX = 1, 1000
TAGS_MAX, TAG_MAX_LENGTH = 10, 30
# A list of tags is counted before any tag is read: it may repeat a tag (they are merged, so eleven that are ten
# after merging are accepted) but a list this long cannot be TAGS_MAX tags.
TAGS_LIST_MAX = 10 * TAGS_MAX
SCHEDULE_AHEAD = timedelta(days=365)
NOT_FOUND_MESSAGE = _l("Training session not found.")  # the same answer whether it is missing or hidden

BOOLEAN_FIELDS = ("recording_enabled", "chat_enabled", "is_public", "members_only", "release_no_shows")
BOOLEAN_DEFAULTS = {
    "recording_enabled": False,
    "chat_enabled": True,
    "is_public": False,
    "members_only": True,
    "release_no_shows": False,
}
WRITABLE_FIELDS = frozenset(
    {
        "title",
        "description",
        "start_time",
        "duration_minutes",
        "capacity",
        "event_id",
        "instructor_id",
        "assistant_ids",
        "tags",
        *BOOLEAN_FIELDS,
    }
)
REQUIRED_FIELDS = {
    "title": _l("Give the session a title."),
    "start_time": _l("Give the date and time the session starts."),
    "duration_minutes": _l("Give the duration in minutes (15 to 480)."),
}

Clean = dict[str, Any]
Errors = dict[str, str]


# ------------------------------------------------------------------------------------------------ validation
def validate_session(
    raw: dict[str, Any],
    *,
    now: datetime,
    partial: bool = False,
    current_start: datetime | None = None,
    seats_taken: int = 0,
) -> tuple[Clean, Errors]:
    """Check the fields present in `raw` (all required ones unless `partial`).

    `current_start`: the stored start of a session being edited; sending it unchanged is always accepted (an
    edit of the title must not fail because the session is about to start). `seats_taken`: confirmed seats,
    the lowest capacity allowed.
    """
    clean: Clean = {}
    errors: Errors = {key: _l("Unknown or read-only field.") for key in raw if key not in WRITABLE_FIELDS}
    if not partial:
        for key, message in REQUIRED_FIELDS.items():
            if raw.get(key) in (None, ""):
                errors[key] = message
    checks = {
        "title": check_title,
        "description": check_description,
        "duration_minutes": check_duration,
        "tags": check_tags,
        "event_id": lambda v: check_id(v, required=False),
        "instructor_id": lambda v: check_id(v, required=True),
        "assistant_ids": check_assistant_ids,
    }
    for key, check in checks.items():
        if key in raw and key not in errors:
            put(clean, errors, key, check(raw[key]))
    if "start_time" in raw and "start_time" not in errors:
        put(clean, errors, "start_time", check_start_time(raw["start_time"], now, current_start))
    if "capacity" in raw:
        put(clean, errors, "capacity", check_capacity(raw["capacity"], seats_taken))
    for key in BOOLEAN_FIELDS:
        if key in raw:
            put(clean, errors, key, check_bool(raw[key]))
    if not partial:
        for key, default in BOOLEAN_DEFAULTS.items():
            clean.setdefault(key, default)
        clean.setdefault("description", "")
        clean.setdefault("tags", [])
        clean.setdefault("assistant_ids", [])
    return clean, errors


def check_title(value: Any) -> tuple[str | None, str | None]:
    if not isinstance(value, str) or not value.strip():
        return None, _l("Give the session a title.")
    title = value.strip()
    if len(title) > TITLE_MAX:
        return None, _l(
            "Keep the title to %(title_max)s characters (it has %(length)s).", title_max=TITLE_MAX, length=len(title)
        )
    if not storable_text(title):
        return None, unstorable_text_message("title")
    return title, None


def check_description(value: Any) -> tuple[str | None, str | None]:
    return check_long_text(value, DESCRIPTION_MAX)


def check_start_time(
    value: Any, now: datetime, current_start: datetime | None = None
) -> tuple[datetime | None, str | None]:
    start, error = parse_aware_datetime(value)
    if error or start is None:
        return None, error
    if current_start is not None and start == current_start:
        return start, None
    if start <= now:
        return None, _l("The start must be in the future.")
    if start > now + SCHEDULE_AHEAD:
        return None, _l("Sessions can be scheduled at most 365 days ahead.")
    return start, None


def check_duration(value: Any) -> tuple[int | None, str | None]:
    if not is_int(value):
        return None, _l("Give the duration in whole minutes.")
    if not DURATION_MIN <= value <= DURATION_MAX:
        return None, _l(
            "The duration must be between %(duration_min)s and %(duration_max)s minutes.",
            duration_min=DURATION_MIN,
            duration_max=DURATION_MAX,
        )
    return value, None


def check_capacity(value: Any, seats_taken: int = 0) -> tuple[int | None, str | None]:
    if value is None or value == "":
        return None, None
    if not is_int(value):
        return None, _l("Give the capacity as a whole number, or leave it empty for no limit.")
    if not CAPACITY_MIN <= value <= CAPACITY_MAX:
        return None, _l(
            "The capacity must be between %(capacity_min)s and %(capacity_max)s, or empty for no limit.",
            capacity_min=CAPACITY_MIN,
            capacity_max=CAPACITY_MAX,
        )
    if value < seats_taken:
        return None, fill(
            _l("%(num)d seats are already taken; the capacity cannot be lower than that."), num=seats_taken
        )
    return value, None


def check_bool(value: Any) -> tuple[bool | None, str | None]:
    if not isinstance(value, bool):
        return None, _l("Must be true or false.")
    return value, None


def check_id(value: Any, *, required: bool) -> tuple[int | None, str | None]:
    if value is None or value == "":
        return (None, _l("This field is required.")) if required else (None, None)
    if not is_id(value):
        return None, _l("Must be the id (a positive whole number) of an existing record.")
    return value, None


def check_assistant_ids(value: Any) -> tuple[list[int] | None, str | None]:
    """A list of at most MAX_ASSISTANTS distinct user ids (null or [] for none), answered in ascending order. Who
    they are (active instructors, not the lead) is checked against the database by training.operations."""
    if value is None:
        return [], None
    if not isinstance(value, list) or not all(is_id(item) for item in value[: MAX_ASSISTANTS + 1]):
        return None, _l("Give the assistants as a list of user ids.")
    if len(value) > MAX_ASSISTANTS:
        return None, fill(_l("A session has at most %(num)d assistants."), num=MAX_ASSISTANTS)
    if len(set(value)) != len(value):
        return None, _l("Name each assistant once.")
    return sorted(value), None


def assistant_errors(assistant_ids: list[int], *, lead_id: int | None, instructor_ids: set[int]) -> Errors:
    """The assistants' own checks, once their users are read: `instructor_ids` are those of `assistant_ids` that
    are active users with the instructor role or above."""
    if lead_id is not None and lead_id in assistant_ids:
        return {"assistant_ids": _l("The lead instructor cannot also be an assistant.")}
    others = [str(user_id) for user_id in assistant_ids if user_id not in instructor_ids]
    if others:
        return {
            "assistant_ids": fill(
                _l("Assistants must be active instructors; user %(ids)s is not one."), ids=", ".join(others)
            )
        }
    return {}


def check_tags(value: Any) -> tuple[list[str] | None, str | None]:
    """Lower-cased, stripped and merged, in the order given. Linear in the list: its length is checked before any
    tag is read, each tag once, and the merging stops at the first tag too many."""
    if value is None:
        return [], None
    if not isinstance(value, list):
        return None, _l("Tags must be a list of words.")
    if len(value) > TAGS_LIST_MAX:
        return None, _l("Use at most %(tags_max)s tags.", tags_max=TAGS_MAX)
    tags: dict[str, None] = {}  # insertion-ordered, with a set's lookup
    for raw in value:
        if not isinstance(raw, str):
            return None, _l("Tags must be a list of words.")
        tag = raw.strip().lower()
        if not tag or len(tag) > TAG_MAX_LENGTH or not storable_text(tag):
            return None, _l("Each tag must be 1 to %(tag_max_length)s characters.", tag_max_length=TAG_MAX_LENGTH)
        tags[tag] = None
        if len(tags) > TAGS_MAX:
            return None, _l("Use at most %(tags_max)s tags.", tags_max=TAGS_MAX)
    return list(tags), None


def split_tags(text: str) -> list[str]:
    """'Kata, Beginners,,kata' -> ['Kata', 'Beginners', 'kata'] (the check lower-cases and deduplicates)."""
    return [part for part in (p.strip() for p in (text or "").split(",")) if part]


# ------------------------------------------------------------------------------------------------ access
def can_view_all(user) -> bool:
    """Members and above see every session; anonymous and `public` users only the public ones."""
    return has_role(user, Role.MEMBER)


def can_view(session, user) -> bool:
    """A public session is visible on its own, whatever its event's visibility."""
    return can_view_all(user) or bool(session.is_public)


def passes_members_only(session, user) -> bool:
    """SPEC "Joining" check 4: a members-only session is for members and above."""
    return not session.members_only or has_role(user, Role.MEMBER)


def can_watch_recording(session, user) -> bool:
    """Watching a recording needs what joining needs, checks 1-4 (SPEC "After the session"): the session is
    visible to them, they are signed in, and a members-only session's recording is for members. Check 2 (not
    canceled, not ended) does not apply: a recording only exists once the session has ended."""
    signed_in = bool(getattr(user, "is_authenticated", False))
    return can_view(session, user) and signed_in and passes_members_only(session, user)


def _signed_in(user) -> bool:
    return bool(getattr(user, "is_authenticated", False))


def is_lead(session, user) -> bool:
    """The session's (or series') lead instructor, `instructor_id`."""
    return _signed_in(user) and session.instructor_id == user.id


def assistant_ids_of(session) -> list[int]:
    """The session's assistants (a series has none). Reads `session.assistant_ids`: of a TrainingSession, its
    `assistants` (one query unless loaded, so the lists that ask this per row load them for the whole page at
    once: training.queries); of a join panel's snapshot (seats.queries), read with it."""
    return list(getattr(session, "assistant_ids", None) or ())


def is_instructor_of(session, user) -> bool:
    """THE rule "is one of the session's instructors": its lead or one of its assistants, holding the instructor
    role or above (someone demoted to member keeps no instructor rights). Every "own session" check asks this.
    Cheap: the lead and the role are checked first; the assistants are only read for an instructor who does not
    lead the session."""
    if not _signed_in(user) or not has_role(user, Role.INSTRUCTOR):
        return False
    return session.instructor_id == user.id or user.id in assistant_ids_of(session)


def can_create(user) -> bool:
    return has_role(user, Role.INSTRUCTOR)


def can_assign_instructor(user) -> bool:
    """Board members and admins may schedule a session for another instructor."""
    return has_role(user, Role.BOARD_MEMBER)


def can_hand_over(session, user) -> bool:
    """Who names another lead (a substitute): the lead, board members and admins; not the assistants."""
    return (has_role(user, Role.INSTRUCTOR) and is_lead(session, user)) or has_role(user, Role.BOARD_MEMBER)


def can_edit(session, user) -> bool:
    return has_role(user, Role.BOARD_MEMBER) or is_instructor_of(session, user)


can_cancel = can_edit


def can_start(session, user) -> bool:
    """The session's instructors (lead and assistants) start and end it."""
    return is_instructor_of(session, user)


can_end = can_start


def can_see_room_state(session, user) -> bool:
    return can_edit(session, user) or has_role(user, Role.ADMIN)


def can_see_attendance(session, user) -> bool:
    """The session's instructors, and board members and admins for every session."""
    return has_role(user, Role.BOARD_MEMBER) or is_instructor_of(session, user)


def can_see_presence(session, user, *, has_joined: bool) -> bool:
    """Who is in the room: for its instructors, board members and admins, and people who joined it."""
    return has_role(user, Role.BOARD_MEMBER) or has_joined or is_instructor_of(session, user)


def may_sessions(user) -> dict[str, bool]:
    """What every page offers `user` about sessions in general (the templates' `may_sessions`): the "Schedule a
    session" buttons, and whether the lists they see are all sessions or only the public ones."""
    return {"schedule": can_create(user), "see_all": can_view_all(user)}


def allowed_actions(session, user, *, now: datetime | None = None) -> dict[str, bool]:
    """What the session page offers `user` now: the role check and the state check of each action, together (and
    for Start, the start rule's timing: the same answer the start endpoints give)."""
    status = session.status
    may_start = can_start(session, user) and not transition_error(status, "start")
    return {
        "edit": can_edit(session, user) and not transition_error(status, "edit"),
        "cancel": can_cancel(session, user) and not transition_error(status, "cancel"),
        "start": may_start and start_refusal_now(session, now) is None,
        "end": can_end(session, user) and not transition_error(status, "end"),
        "see_room": can_see_room_state(session, user),
        "hand_over": can_hand_over(session, user) and not transition_error(status, "edit"),
        "see_attendance": can_see_attendance(session, user),
    }


# ------------------------------------------------------------------------------------------------ the start rule
TOO_EARLY_TO_START = "too_early_to_start"
TOO_LATE_TO_START = "too_late_to_start"


def start_period(session, *, join_window: timedelta, grace: timedelta) -> tuple[datetime, datetime]:
    """SPEC "Starting": from the moment the join window opens (start - join window) until the auto-end deadline
    (end + grace), both included."""
    return session.start_time - join_window, session.end_time + grace


def start_refusal(session, now: datetime, *, join_window: timedelta, grace: timedelta) -> str | None:
    """The one start rule's timing: None inside the start period, else TOO_EARLY_TO_START or TOO_LATE_TO_START.
    The start endpoints, the session page's Start button and the join panel all ask this."""
    opens_at, closes_at = start_period(session, join_window=join_window, grace=grace)
    if now < opens_at:
        return TOO_EARLY_TO_START
    if now > closes_at:
        return TOO_LATE_TO_START
    return None


def start_settings() -> dict[str, timedelta]:
    """The start period's settings: JOIN_WINDOW_MINUTES and AUTO_END_GRACE_MINUTES."""
    settings = current_settings()
    return {"join_window": settings.join_window, "grace": timedelta(minutes=settings.AUTO_END_GRACE_MINUTES)}


def start_refusal_now(session, now: datetime | None = None) -> str | None:
    return start_refusal(session, now or now_utc(), **start_settings())


# ------------------------------------------------------------------------------------------------ lifecycle
def transition_error(status: str, action: str) -> str | None:
    """None when `action` (edit, cancel, start, end) is allowed in `status`; else why not."""
    allowed = {
        "edit": (SessionStatus.SCHEDULED, SessionStatus.LIVE),
        "cancel": (SessionStatus.SCHEDULED,),
        "start": (SessionStatus.SCHEDULED,),
        "end": (SessionStatus.LIVE,),
    }[action]
    if status in allowed:
        return None
    if SessionStatus(status).is_final:
        return _l("This session is %(status)s; it can no longer be changed.", status=status)
    if action == "end":
        return _l("Only a live session can be ended; start it first.")
    if action in ("start", "cancel"):
        return _l("This session is already %(status)s.", status=status)
    return _l("A %(status)s session cannot be changed this way.", status=status)


def end_transition_error(status: str, *, by_system: bool, reason: EndReason | str) -> str | None:
    """The worker may end a session that never started (reason not_started); everyone else needs `live`."""
    if by_system and reason == EndReason.NOT_STARTED and status == SessionStatus.SCHEDULED:
        return None
    return transition_error(status, "end")


def live_edit_error(changes: Clean, status: str) -> Errors:
    """A live session keeps its start: it has already begun."""
    if status == SessionStatus.LIVE and "start_time" in changes:
        return {"start_time": _l("This session is live; its start can no longer be moved.")}
    return {}


# ------------------------------------------------------------------------------------------------ rooms
def room_backoff(attempts: int) -> timedelta:
    """Wait before provisioning again after `attempts` failures: 1, 2, 4 ... up to 30 minutes."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 30))
