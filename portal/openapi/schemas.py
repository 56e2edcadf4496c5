"""Every shape of the JSON API, declared once, as JSON Schema 2020-12 (the dialect of OpenAPI 3.1).

Each shape is built from what its package already says, so the two cannot disagree: the values of a status are
the members of the package's enum (SessionStatus, Reason, Role ...), the limits of a field are its rules' constants
(TITLE_MAX, DURATION_MIN ...), the type of a stored field and whether it may be null come from its table's column,
and the can-join answer is the Eligibility dataclass, field by field. An answer's shape names exactly the members
its serializer writes (`additionalProperties: false`): tests/test_openapi.py validates what the serializers really
write against it, and tests/test_api_fuzz.py every answer of the running handlers.
"""

from __future__ import annotations

import types
import typing
from dataclasses import fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from portal.accounts.models import User
from portal.accounts.roles import Role
from portal.core.validation import MAX_ID
from portal.events import rules as event_rules
from portal.events.models import Event, Visibility
from portal.seats.models import SeatStatus
from portal.seats.rules import Eligibility, Reason
from portal.training import recurrence
from portal.training import rules as session_rules
from portal.training.api import MAX_PAGE
from portal.training.models import MAX_ASSISTANTS, EndReason, RoomStatus, SessionStatus, TrainingSession
from portal.training.series_models import TrainingSeries
from portal.video import registry
from portal.video.models import RecordingStatus

Schema = dict[str, Any]

DATE_TIME: Schema = {"type": "string", "format": "date-time"}
_BY_PYTHON_TYPE: dict[type, Schema] = {
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    str: {"type": "string"},
    datetime: {**DATE_TIME, "description": "ISO 8601 with its offset (UTC)."},
}


# --------------------------------------------------------------------------------------------- building blocks
def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """`schema`, or null."""
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    widened = dict(schema)
    if "enum" in widened:
        widened["enum"] = [*widened["enum"], None]
    kind = widened.get("type")
    if isinstance(kind, str):
        widened["type"] = [kind, "null"]
    return widened


def enum_of(kind: type[StrEnum], description: str = "") -> Schema:
    schema: Schema = {"type": "string", "enum": [member.value for member in kind]}
    if description:
        schema["description"] = description
    return schema


def closed_object(properties: dict[str, Schema], *, required: list[str] | None = None, **extra: Any) -> Schema:
    """An object with exactly these members; all of them required unless `required` says which."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
        **extra,
    }


def column(model: type, name: str, *, enum: type[StrEnum] | None = None) -> Schema:
    """A stored field as the API writes it: the column's type (or `enum`), null where the column may be."""
    col = model.__table__.columns[name]  # type: ignore[attr-defined]
    stored = getattr(col.type, "impl_instance", col.type)  # a TypeDecorator (UTCDateTime) stores its impl's type
    schema = enum_of(enum) if enum is not None else dict(_BY_PYTHON_TYPE[stored.python_type])
    return nullable(schema) if col.nullable else schema


def columns(model: type, names: list[str], enums: dict[str, type[StrEnum]] | None = None) -> dict[str, Schema]:
    return {name: column(model, name, enum=(enums or {}).get(name)) for name in names}


def from_hint(hint: Any, enum: type[StrEnum] | None = None) -> Schema:
    """A dataclass field's type hint as a schema: `X | None` is nullable, a StrEnum lists its values."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        others = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        inner = from_hint(others[0], enum) if len(others) == 1 else {}
        return nullable(inner) if len(others) < len(typing.get_args(hint)) else inner
    if enum is not None:
        return enum_of(enum)
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return enum_of(hint)
    return dict(_BY_PYTHON_TYPE[hint])


def dataclass_properties(cls: type, enums: dict[str, type[StrEnum]] | None = None) -> dict[str, Schema]:
    hints = typing.get_type_hints(cls)
    return {field.name: from_hint(hints[field.name], (enums or {}).get(field.name)) for field in fields(cls)}


def text(maximum: int, *, required: bool, description: str = "") -> Schema:
    """Free text as a rule checks it: trimmed, at most `maximum` characters, no NUL; `required` means not blank."""
    schema: Schema = {"type": "string", "maxLength": maximum}
    if required:
        schema["minLength"] = 1
    else:
        schema = nullable(schema)
    schema["description"] = description or f"Trimmed; at most {maximum} characters; no NUL character."
    return schema


def identifier(description: str) -> Schema:
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID, "description": description}


# --------------------------------------------------------------------------------------------- core
def error() -> Schema:
    """portal.core.errors.error_body: every refusal, whatever the status."""
    detail = closed_object(
        {
            "code": {"type": "string", "description": "What went wrong, for programs (e.g. `invalid`, `full`)."},
            "message": {"type": "string", "description": "What went wrong, for people."},
            "fields": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "With 422: each invalid field and what is wrong with it.",
            },
            "reason": enum_of(Reason, "A refused join or seat: the refusal's reason (the same as `code`)."),
            "opens_at": nullable({**DATE_TIME, "description": "A join refused as too early: when the window opens."}),
            "seconds_until_open": {"type": "integer", "minimum": 0},
        },
        required=["code", "message"],
    )
    return closed_object({"error": detail}, description='Every error: `{"error": {"code", "message", "fields"?}}`.')


# --------------------------------------------------------------------------------------------- accounts
def user() -> Schema:
    """portal.accounts.api.user_json."""
    return closed_object(columns(User, ["id", "email", "name", "role", "timezone"], {"role": Role}))


def token_request() -> Schema:
    return {
        "type": "object",
        "properties": {"email": {"type": "string", "minLength": 1}, "password": {"type": "string", "minLength": 1}},
        "required": ["email", "password"],
    }


def token() -> Schema:
    return closed_object(
        {
            "token": {"type": "string", "description": "Send it as `Authorization: Bearer <token>`."},
            "expires_at": {**DATE_TIME, "description": "After this moment the token is refused (401)."},
        }
    )


def password_reset_request() -> Schema:
    return {
        "type": "object",
        "properties": {"email": {"type": "string", "minLength": 1, "description": "The address of the account."}},
        "required": ["email"],
    }


def password_reset_confirm() -> Schema:
    return {
        "type": "object",
        "properties": {
            "token": {
                "type": "string",
                "minLength": 1,
                "description": "The part of the emailed link after /password-reset/.",
            },
            "password": {
                "type": "string",
                "minLength": 1,
                "description": "The new password: 10 to 200 characters, not one of the common passwords.",
            },
        },
        "required": ["token", "password"],
    }


def password_change() -> Schema:
    return {
        "type": "object",
        "properties": {
            "current_password": {"type": "string", "minLength": 1},
            "new_password": {
                "type": "string",
                "minLength": 1,
                "description": "10 to 200 characters, not one of the common passwords, not the current one.",
            },
        },
        "required": ["current_password", "new_password"],
    }


def accepted() -> Schema:
    return closed_object({"status": {"type": "string", "const": "accepted"}})


# --------------------------------------------------------------------------------------------- events
EVENT_COLUMNS = ["id", "title", "description", "start_time", "end_time", "location", "visibility"]


def event() -> Schema:
    """portal.events.serializers.event_json, with the `training_sessions` the training package adds (those the
    caller may see; only public ones from /api/events/public/{id})."""
    properties = columns(Event, [*EVENT_COLUMNS, "created_at", "updated_at"], {"visibility": Visibility})
    properties["image_url"] = {
        "type": ["string", "null"],
        "description": "Address of the event's image (GET /uploads/events/{name}); null: none.",
    }
    properties["image_alt"] = {"type": "string", "description": 'The image\'s alt text; "" without an image.'}
    properties["training_sessions"] = {"type": "array", "items": ref("Session")}
    return closed_object(properties)


def event_fields() -> dict[str, Schema]:
    """portal.events.rules.validate_event, field by field."""
    return {
        "title": text(event_rules.TITLE_MAX, required=True),
        "description": text(event_rules.DESCRIPTION_MAX, required=False),
        "start_time": {**DATE_TIME, "description": "ISO 8601 with an offset; a naive time is refused."},
        "end_time": {**DATE_TIME, "description": "ISO 8601 with an offset; after `start_time`."},
        "location": text(event_rules.LOCATION_MAX, required=False),
        "visibility": {**enum_of(Visibility), "default": Visibility.MEMBERS.value},
    }


def event_input() -> Schema:
    return closed_object(event_fields(), required=list(event_rules.REQUIRED_FIELDS))


def event_changes() -> Schema:
    return closed_object(event_fields(), required=[], description="Only the fields to change.")


# --------------------------------------------------------------------------------------------- training
SESSION_COLUMNS = [
    "id",
    "event_id",
    "instructor_id",
    "title",
    "description",
    "start_time",
    "duration_minutes",
    "end_time",
    "capacity",
    "seats_taken",
    "recording_enabled",
    "chat_enabled",
    "is_public",
    "members_only",
    "release_no_shows",
]
SESSION_STATE_COLUMNS = [
    "status",
    "room_id",
    "room_status",
    "started_at",
    "ended_at",
    "end_reason",
    "recording_id",
    "recording_status",
]
SESSION_ENUMS: dict[str, type[StrEnum]] = {
    "status": SessionStatus,
    "room_status": RoomStatus,
    "end_reason": EndReason,
    "recording_status": RecordingStatus,
}


def session() -> Schema:
    """portal.training.serializers.session_json."""
    properties = columns(TrainingSession, SESSION_COLUMNS[:3])
    properties["series_id"] = column(TrainingSession, "series_id")
    properties["instructor_name"] = nullable({"type": "string"})
    properties["assistant_ids"] = assistant_ids()
    properties |= columns(TrainingSession, SESSION_COLUMNS[3:])
    properties["tags"] = {"type": "array", "items": {"type": "string"}, "description": "Lower-case, no duplicates."}
    properties |= columns(TrainingSession, SESSION_STATE_COLUMNS, SESSION_ENUMS)
    properties["recording_url"] = nullable(
        {
            "type": "string",
            "format": "uri",
            "description": "The portal's watch route of the recording (/recordings/{id}/watch, which fetches the "
            "provider's link at click time), only for someone who may watch it now; the provider's link is never "
            "in the JSON.",
        }
    )
    properties |= columns(TrainingSession, ["archived_at", "created_at", "updated_at"])
    return closed_object(properties)


def assistant_ids() -> Schema:
    return {
        "type": "array",
        "items": identifier("An active user with the instructor role or above, not the lead."),
        "maxItems": MAX_ASSISTANTS,
        "uniqueItems": True,
        "description": f"The session's assistant instructors (at most {MAX_ASSISTANTS}), ascending: with the lead "
        "they may edit, start and end the session and see its attendance.",
    }


def session_fields() -> dict[str, Schema]:
    """portal.training.rules.validate_session, field by field (the keys are rules.WRITABLE_FIELDS)."""
    r = session_rules
    booleans = {name: {"type": "boolean", "default": r.BOOLEAN_DEFAULTS[name]} for name in r.BOOLEAN_FIELDS}
    return {
        "title": text(r.TITLE_MAX, required=True),
        "description": text(r.DESCRIPTION_MAX, required=False),
        "start_time": {
            **DATE_TIME,
            "description": "ISO 8601 with an offset (a naive time is refused); in the future, at most "
            f"{r.SCHEDULE_AHEAD.days} days ahead. Sent unchanged in an edit, it is always accepted.",
        },
        "duration_minutes": {"type": "integer", "minimum": r.DURATION_MIN, "maximum": r.DURATION_MAX},
        "capacity": {
            "type": ["integer", "null"],
            "minimum": r.CAPACITY_MIN,
            "maximum": r.CAPACITY_MAX,
            "description": "Seats; null for no limit. Never below the seats already confirmed.",
        },
        "event_id": nullable(identifier("An existing event (422 `event not found` otherwise).")),
        "instructor_id": identifier(
            "The lead instructor. Another than the caller on a new session: board members and admins only; on a "
            "stored session a new lead is a handover (the lead, board members and admins; 403 otherwise)."
        ),
        "assistant_ids": {
            **assistant_ids(),
            "type": ["array", "null"],
            "description": f"Replaces the assistants (null or [] for none): at most {MAX_ASSISTANTS} distinct active "
            "instructors, not the lead (422 otherwise).",
        },
        "tags": {
            "type": ["array", "null"],
            "items": {"type": "string", "minLength": 1, "maxLength": r.TAG_MAX_LENGTH},
            "maxItems": r.TAGS_MAX,
            "description": f"At most {r.TAGS_MAX} once lower-cased and deduplicated.",
        },
        **booleans,
    }


def lead_change() -> Schema:
    return closed_object(
        {
            "instructor_id": identifier("The new lead: an active instructor (or above) other than the current lead."),
            "keep_as_assistant": {
                "type": "boolean",
                "default": False,
                "description": "Whether the previous lead stays on as an assistant (422 when the session already "
                f"has {MAX_ASSISTANTS}); otherwise they are no longer one of its instructors.",
            },
        },
        required=["instructor_id"],
    )


def session_input() -> Schema:
    return closed_object(session_fields(), required=list(session_rules.REQUIRED_FIELDS))


def session_changes() -> Schema:
    return closed_object(
        session_fields(), required=[], description="Only the fields to change; a live session keeps its start."
    )


def session_page() -> Schema:
    return closed_object(
        {
            "items": {"type": "array", "items": ref("Session")},
            "total": {"type": "integer", "minimum": 0, "description": "Sessions matching the filters, all pages."},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            "offset": {"type": "integer", "minimum": 0},
        }
    )


# --------------------------------------------------------------------------------------------- series
WEEKDAY = {"type": "string", "enum": list(recurrence.WEEKDAYS)}
SERIES_COLUMNS = [
    "id",
    "event_id",
    "instructor_id",
    "title",
    "description",
    "duration_minutes",
    "capacity",
    "recording_enabled",
    "chat_enabled",
    "is_public",
    "members_only",
]


def series_rule_fields() -> dict[str, Schema]:
    """portal.training.recurrence.check_rule, field by field."""
    return {
        "first_start": {
            "type": "string",
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$",
            "description": "The first start: a local date and time in `time_zone`, without an offset; in the "
            "future. A time the clocks skip moves forward by the gap (RFC 5545); a repeated time is its first "
            "reading.",
        },
        "time_zone": {"type": "string", "description": "An IANA time zone, e.g. Europe/Berlin."},
        "weekdays": {"type": "array", "items": WEEKDAY, "minItems": 1, "maxItems": 14},
        "interval_weeks": {
            "type": "integer",
            "minimum": recurrence.INTERVAL_MIN,
            "maximum": recurrence.INTERVAL_MAX,
            "default": 1,
        },
        "count": nullable(
            {
                "type": "integer",
                "minimum": recurrence.COUNT_MIN,
                "maximum": recurrence.COUNT_MAX,
                "description": "How many occurrences; give count or until.",
            }
        ),
        "until": nullable(
            {
                "type": "string",
                "format": "date",
                "description": "The last day (inclusive), at most 365 days ahead; give count or until.",
            }
        ),
    }


def series_input() -> Schema:
    # a series carries no start_time, and neither assistants nor the release of no-shows (set on each session)
    per_session = ("start_time", "assistant_ids", "release_no_shows")
    fields = {name: schema for name, schema in session_fields().items() if name not in per_session}
    return closed_object(
        fields | series_rule_fields(),
        required=["title", "duration_minutes", "first_start", "time_zone", "weekdays"],
        description="Occurrences more than 365 days ahead are made later, as the horizon moves on; a series "
        "whose every date is beyond it is refused (422).",
    )


def series_changes() -> Schema:
    return closed_object(
        session_fields(),
        required=[],
        description="scope=this: any field of that occurrence. scope=following|all: every field but start_time "
        "(422), each occurrence keeping the fields it changed on its own.",
    )


def series() -> Schema:
    """portal.training.series_api.series_json."""
    properties = columns(TrainingSeries, SERIES_COLUMNS)
    properties["tags"] = {"type": "array", "items": {"type": "string"}}
    properties |= {
        "first_start": {"type": "string", "description": "Local date-time in `time_zone`, YYYY-MM-DDTHH:MM."},
        "time_zone": {"type": "string"},
        "weekdays": {"type": "array", "items": WEEKDAY},
        "interval_weeks": {"type": "integer"},
        "count": nullable({"type": "integer"}),
        "until": nullable({"type": "string", "format": "date"}),
        "canceled_dates": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Local date-times of the canceled occurrences (the .ics EXDATEs).",
        },
    }
    properties |= columns(TrainingSeries, ["canceled_at", "created_at", "updated_at"])
    return closed_object(properties)


def series_answer() -> Schema:
    return closed_object(
        {
            "series": ref("Series"),
            "occurrence_ids": {"type": "array", "items": {"type": "integer"}, "description": "Its sessions."},
            "affected_ids": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "PUT and DELETE: the occurrences changed or canceled.",
            },
        },
        required=["series", "occurrence_ids"],
    )


def standing_booking() -> Schema:
    """portal.seats.standing_api.book."""
    return closed_object(
        {
            "series_id": {"type": "integer"},
            "user_id": {"type": "integer"},
            "seats": {
                "type": "array",
                "items": closed_object({"session_id": {"type": "integer"}, "status": enum_of(SeatStatus)}),
                "description": "A seat or a waitlist place per future occurrence.",
            },
        }
    )


def standing_booking_end() -> Schema:
    return closed_object(
        {
            "series_id": {"type": "integer"},
            "user_id": {"type": "integer"},
            "released_session_ids": {"type": "array", "items": {"type": "integer"}},
        }
    )


# --------------------------------------------------------------------------------------------- seats
def eligibility() -> Schema:
    """GET .../can-join: `session_id`, then portal.seats.rules.Eligibility.to_json, field by field."""
    properties = {"session_id": {"type": "integer"}}
    properties |= dataclass_properties(Eligibility, {"status": SessionStatus})
    properties["reason"]["description"] = "Why not (null when `can_join`), in the order of the checks."
    properties["poll_seconds"]["description"] = "When to ask again; null once the session is final."
    return closed_object(properties)


def join() -> Schema:
    """POST .../join: this caller's own participant token (never anyone else's)."""
    return closed_object(
        {
            "provider": {"type": "string", "enum": sorted(registry.KINDS)},
            "room_id": {"type": "string"},
            "token": {"type": "string", "description": "The participant token, for this caller only."},
            "join_url": {"type": "string", "format": "uri", "description": "The portal's join page."},
            "status": enum_of(SessionStatus),
        }
    )


def seat() -> Schema:
    """portal.seats.api._seat_json."""
    return closed_object(
        {
            "session_id": {"type": "integer"},
            "status": enum_of(SeatStatus),
            "waitlist_position": nullable({"type": "integer", "minimum": 1}),
            "seats_taken": column(TrainingSession, "seats_taken"),
            "capacity": column(TrainingSession, "capacity"),
        }
    )


def seat_request() -> Schema:
    return {
        "type": "object",
        "properties": {
            "waitlist": {
                "type": "boolean",
                "default": True,
                "description": "Take a waitlist place when the session is full; false answers 409 `full` instead.",
            }
        },
    }


# --------------------------------------------------------------------------------------------- video
def webhook_receipt() -> Schema:
    """portal.video.webhooks.receipt_answer."""
    return closed_object(
        {
            "received": {"type": "boolean", "const": True},
            "duplicate": {"type": "boolean", "description": "This body was received before; not applied again."},
            "event": nullable({"type": "string"}),
            "outcome": {"type": "string", "description": "What applying it did, in words."},
        }
    )


def components() -> dict[str, Schema]:
    """Every named shape, by its name in the document."""
    return {
        "Error": error(),
        "User": user(),
        "TokenRequest": token_request(),
        "Token": token(),
        "PasswordResetRequest": password_reset_request(),
        "PasswordResetConfirm": password_reset_confirm(),
        "PasswordChange": password_change(),
        "Accepted": accepted(),
        "Event": event(),
        "EventInput": event_input(),
        "EventChanges": event_changes(),
        "Session": session(),
        "SessionInput": session_input(),
        "SessionChanges": session_changes(),
        "SessionPage": session_page(),
        "LeadChange": lead_change(),
        "Series": series(),
        "SeriesInput": series_input(),
        "SeriesChanges": series_changes(),
        "SeriesAnswer": series_answer(),
        "StandingBooking": standing_booking(),
        "StandingBookingEnd": standing_booking_end(),
        "Eligibility": eligibility(),
        "Join": join(),
        "Seat": seat(),
        "SeatRequest": seat_request(),
        "WebhookReceipt": webhook_receipt(),
    }
