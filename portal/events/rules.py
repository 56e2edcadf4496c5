"""Pure rules of events: field validation and who may see or change them."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from portal.accounts.roles import Role, has_role
from portal.core.validation import check_long_text, parse_aware_datetime, put, storable_text, unstorable_text_message
from portal.events.models import Visibility

TITLE_MAX = 200
LOCATION_MAX = 200
DESCRIPTION_MAX = 5000
WRITABLE_FIELDS = frozenset({"title", "description", "start_time", "end_time", "location", "visibility"})
REQUIRED_FIELDS = ("title", "start_time", "end_time")
VISIBILITIES = frozenset(v.value for v in Visibility)


def validate_event(
    raw: dict[str, Any], *, partial: bool = False, current: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """(clean, errors) for the fields in `raw`; `current` holds the stored start/end of an event being edited."""
    clean: dict[str, Any] = {}
    errors = {key: _l("Unknown or read-only field.") for key in raw if key not in WRITABLE_FIELDS}
    if not partial:
        errors.update({key: _l("This field is required.") for key in REQUIRED_FIELDS if raw.get(key) in (None, "")})
    if "title" in raw and "title" not in errors:
        put(clean, errors, "title", _text(raw["title"], TITLE_MAX, "title", required=True))
    if "description" in raw:
        put(clean, errors, "description", check_long_text(raw["description"], DESCRIPTION_MAX))
    if "location" in raw:
        put(clean, errors, "location", _text(raw["location"], LOCATION_MAX, "location", required=False))
    for key in ("start_time", "end_time"):
        if key in raw and key not in errors:
            put(clean, errors, key, parse_aware_datetime(raw[key]))
    if "visibility" in raw:
        put(clean, errors, "visibility", check_visibility(raw["visibility"]))
    start = clean.get("start_time", (current or {}).get("start_time"))
    end = clean.get("end_time", (current or {}).get("end_time"))
    if start and end and end <= start and "end_time" not in errors:
        errors["end_time"] = _l("The end must be after the start.")
    if not partial:
        clean.setdefault("description", "")
        clean.setdefault("location", "")
        clean.setdefault("visibility", Visibility.MEMBERS.value)
    return clean, errors


def check_visibility(value: Any) -> tuple[str | None, str | None]:
    # a str first: a list or a dict from JSON cannot even be looked up in a set
    if isinstance(value, str) and value in VISIBILITIES:
        return value, None
    return None, _l("Visibility is either public (everyone) or members (members only).")


def _text(value: Any, limit: int, label: str, *, required: bool) -> tuple[str | None, str | None]:
    if value is None and not required:
        return "", None
    if not isinstance(value, str):
        return None, _l("The %(label)s must be text.", label=label)
    text = value.strip()
    if required and not text:
        return None, _l("Give the event a %(label)s.", label=label)
    if len(text) > limit:
        return None, _l(
            "Keep the %(label)s to %(limit)s characters (it has %(length)s).",
            label=label,
            limit=limit,
            length=len(text),
        )
    if not storable_text(text):
        return None, unstorable_text_message(label)
    return text, None


def can_view_all(user) -> bool:
    """Members and above see every event; anonymous and `public` users only the public ones."""
    return has_role(user, Role.MEMBER)


def can_view(event, user) -> bool:
    return event.is_public or can_view_all(user)


def can_manage(user) -> bool:
    """Board members and admins create and edit events."""
    return has_role(user, Role.BOARD_MEMBER)


def may_events(user) -> dict[str, bool]:
    """What every page offers `user` about events (the templates' `may_events`): the "Create an event" and "Edit"
    buttons, and whether the lists they see are all events or only the public ones."""
    return {"manage": can_manage(user), "see_all": can_view_all(user)}
