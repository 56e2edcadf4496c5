"""What each JSON endpoint takes and answers, declared once per (endpoint, method) of the url_map.

The path, the method and the path parameters are not declared here: document.py reads them from the url_map, and
tests/test_openapi.py fails for a route under /api/ that has no entry here and for an entry with no route.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from portal.core.validation import MAX_ID
from portal.openapi.schemas import Schema, enum_of
from portal.training import queries as session_queries
from portal.training.api import MAX_PAGE
from portal.training.models import SessionStatus


class Access(Enum):
    """Who may call an operation, and what credentials it reads."""

    NONE = "none"  # reads no credentials (the token exchange, a public event, a webhook, this document)
    OPTIONAL = "optional"  # anyone; a signed-in caller may see more; a bearer token that does not check out is 401
    SIGNED_IN = "signed_in"  # a bearer token, or the browser session with its CSRF token; else 401


@dataclass(frozen=True)
class Query:
    name: str
    schema: Schema
    description: str


@dataclass(frozen=True)
class Operation:
    """One documented operation. `answers` maps each success status to its body: a component schema's name, an
    inline schema, or None for no body. `errors` are the error statuses it may answer, each with the error body."""

    summary: str
    tag: str
    access: Access
    answers: Mapping[int, str | Schema | None]
    errors: tuple[int, ...] = ()
    body: str | None = None  # the component schema of the JSON request body
    body_required: bool = True
    query: tuple[Query, ...] = ()
    description: str = ""
    media_type: str = "application/json"  # of the success answers
    headers: Mapping[int, Mapping[str, Schema]] = field(default_factory=dict)  # required response headers


# What each error status means across the API; every one answers portal.core.errors.error_body.
ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "Malformed: the body is not a JSON object, or a query parameter is wrong (`malformed`)."),
    401: (
        "Unauthorized",
        "No credentials or bad ones (`login_required`, `bad_token`, `bad_credentials`): get a token from "
        "POST /api/auth/token.",
    ),
    403: ("Forbidden", "Signed in, but this role or person may not do this."),
    404: ("NotFound", "No such thing, or the caller may not see it (the answer does not say which)."),
    409: ("Conflict", "The thing is in the wrong state for this (`wrong_state`, or a refusal's reason)."),
    413: ("TooLarge", "The request body is larger than the portal accepts."),
    422: ("Invalid", "Some fields are invalid; `fields` says what is wrong with each (`invalid`)."),
    429: ("TooManyRequests", "Too many attempts; try again after `Retry-After` seconds."),
    503: ("Unavailable", "An outside service (the video provider) could not be reached; try again."),
}

LOCATION = {"Location": {"type": "string", "description": "The URL of the new resource."}}
NO_STORE = {"Cache-Control": {"type": "string", "pattern": "no-store"}}

# Error statuses that go together: what any JSON body may get, and what a signed-in write may get.
BODY = (400, 413)
WRITE = (*BODY, 401, 403)
FOUND = (401, 404)  # read by id: a stale bearer token is 401, a missing or hidden thing 404

SERIES_SCOPE = (
    Query(
        "scope",
        {"type": "string", "enum": ["this", "following", "all"]},
        "This occurrence, it and later ones, or every occurrence not over.",
    ),
    Query("from", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "The occurrence (session id) it starts from."),
)
SESSION_FILTERS = (
    Query("status", enum_of(SessionStatus), "Only sessions in this state."),
    Query("instructor_id", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "Only this instructor's."),
    Query("event_id", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "Only this event's."),
    Query("series_id", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "Only this weekly series' occurrences."),
    Query("q", {"type": "string", "maxLength": 200}, "Words that must each be in the title or the description."),
    Query(
        "tag",
        {"type": "array", "items": {"type": "string", "maxLength": 30}, "maxItems": 10},
        "Only sessions with this tag; repeat it for sessions with every one of them.",
    ),
    Query("from", {"type": "string", "format": "date-time"}, "Only sessions starting at or after (with an offset)."),
    Query("to", {"type": "string", "format": "date-time"}, "Only sessions starting before (with an offset)."),
    Query("upcoming", {"type": "boolean", "default": False}, "Only sessions not ended yet."),
    Query("include_archived", {"type": "boolean", "default": False}, "Archived sessions too."),
    Query(
        "sort_by",
        {"type": "string", "enum": list(session_queries.SORT_COLUMNS), "default": "start_time"},
        "Sort by this field.",
    ),
    Query("sort_order", {"type": "string", "enum": list(session_queries.SORT_ORDERS), "default": "asc"}, "Order."),
    Query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 20}, "Page size."),
    Query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_ID, "default": 0}, "Sessions to skip."),
)

OPERATIONS: dict[tuple[str, str], Operation] = {
    # ---------------------------------------------------------------------------------------- accounts
    ("accounts_api.token", "POST"): Operation(
        "Exchange an email and password for a bearer token",
        "accounts",
        Access.NONE,
        {200: "Token"},
        (*BODY, 401, 422, 429),
        body="TokenRequest",
        headers={200: NO_STORE},
        description="Reads no cookie and needs no CSRF token. A wrong email or password is 401 `bad_credentials`; "
        "too many failed attempts for one account or from one address are 429 with `Retry-After`.",
    ),
    ("accounts_api.me", "GET"): Operation(
        "The signed-in caller", "accounts", Access.SIGNED_IN, {200: "User"}, (401,), headers={200: NO_STORE}
    ),
    ("accounts_api.password_reset", "POST"): Operation(
        "Ask for a password reset link by email",
        "accounts",
        Access.NONE,
        {202: "Accepted"},
        (*BODY, 422, 429),
        body="PasswordResetRequest",
        headers={202: NO_STORE},
        description="202 whether or not an account has this address: the answer tells nothing. An active account "
        "with a confirmed address is mailed a single-use link valid for 1 hour (one not confirmed yet gets its "
        "verification link instead). Too many requests from one address are 429 with `Retry-After`.",
    ),
    ("accounts_api.password_reset_confirm", "POST"): Operation(
        "Set a new password with the token of a reset link",
        "accounts",
        Access.NONE,
        {204: None},
        (*BODY, 422),
        body="PasswordResetConfirm",
        description="The link is used up; every browser sign-in of the account ends and every API token is "
        "revoked. A forged or truncated token is 400 `link_invalid`, an expired one 400 `link_expired`, a used one "
        "400 `link_used`; a password the policy refuses is 422.",
    ),
    ("accounts_api.change_password", "PUT"): Operation(
        "Change one's password (needs the current one)",
        "accounts",
        Access.SIGNED_IN,
        {204: None},
        (*WRITE, 422, 429),
        body="PasswordChange",
        description="Ends every other browser sign-in and revokes every API token, the caller's too: get a new "
        "one from POST /api/auth/token. A wrong current password is 422 and counts as a failed sign-in; too many "
        "are 429 with `Retry-After`.",
    ),
    # ---------------------------------------------------------------------------------------- events
    ("events_api.create_event", "POST"): Operation(
        "Create an event (board members and admins)",
        "events",
        Access.SIGNED_IN,
        {201: "Event"},
        (*WRITE, 422),
        body="EventInput",
        headers={201: LOCATION},
    ),
    ("events_api.update_event", "PUT"): Operation(
        "Change an event (board members and admins)",
        "events",
        Access.SIGNED_IN,
        {200: "Event"},
        (*WRITE, 404, 422),
        body="EventChanges",
    ),
    ("events_api.get_event", "GET"): Operation(
        "An event with the training sessions the caller may see",
        "events",
        Access.OPTIONAL,
        {200: "Event"},
        FOUND,
    ),
    ("events_api.get_public_event", "GET"): Operation(
        "A public event with its public sessions, whoever asks",
        "events",
        Access.NONE,
        {200: "Event"},
        (404,),
    ),
    # ---------------------------------------------------------------------------------------- training
    ("training_api.list_sessions", "GET"): Operation(
        "The sessions the caller may see, a page at a time",
        "training",
        Access.OPTIONAL,
        {200: "SessionPage"},
        (400, 401),
        query=SESSION_FILTERS,
        description="An unknown, repeated or malformed query parameter is 400 `malformed`, its `fields` naming each.",
    ),
    ("training_api.create_session", "POST"): Operation(
        "Schedule a session (instructors and above)",
        "training",
        Access.SIGNED_IN,
        {201: "Session"},
        (*WRITE, 422),
        body="SessionInput",
        headers={201: LOCATION},
        description="Its room is provisioned in the background; a provider that is down never fails this.",
    ),
    ("training_api.get_session", "GET"): Operation("A session", "training", Access.OPTIONAL, {200: "Session"}, FOUND),
    ("training_api.update_session", "PUT"): Operation(
        "Change a session (its lead or assistants, board members and admins)",
        "training",
        Access.SIGNED_IN,
        {200: "Session"},
        (*WRITE, 404, 409, 422),
        body="SessionChanges",
        description="Ended and canceled sessions are final (409).",
    ),
    ("training_api.cancel_session", "DELETE"): Operation(
        "Cancel a session (the row is kept, its status `canceled`)",
        "training",
        Access.SIGNED_IN,
        {200: "Session"},
        (401, 403, 404, 409),
    ),
    ("training_api.hand_over", "PUT"): Operation(
        "Hand a session over to another lead instructor (a substitute)",
        "training",
        Access.SIGNED_IN,
        {200: "Session"},
        (*WRITE, 404, 409, 422),
        body="LeadChange",
        description="The lead, board members and admins (assistants and others 403); scheduled or live sessions "
        "only (409). The new lead leaves the assistants; the previous lead stays on as an assistant only with "
        "`keep_as_assistant`. Audited; seat holders are told.",
    ),
    ("training_api.start_session", "POST"): Operation(
        "Start a session (its lead or an assistant)",
        "training",
        Access.SIGNED_IN,
        {200: "Session"},
        (401, 403, 404, 409, 503),
        description="Needs `scheduled` and a ready room: a missing room is provisioned once on the spot; 503 when "
        "the provider cannot make it. Only from the join window's opening (start - JOIN_WINDOW_MINUTES) until the "
        "auto-end deadline (end + AUTO_END_GRACE_MINUTES): 409 `too_early_to_start` / `too_late_to_start` outside.",
    ),
    ("training_api.end_session", "POST"): Operation(
        "End a live session (its lead or an assistant)",
        "training",
        Access.SIGNED_IN,
        {200: "Session"},
        (401, 403, 404, 409, 503),
    ),
    # ---------------------------------------------------------------------------------------- series
    ("series_api.create_series", "POST"): Operation(
        "Schedule a weekly series (instructors and above): its occurrences are sessions",
        "training",
        Access.SIGNED_IN,
        {201: "SeriesAnswer"},
        (*WRITE, 422),
        body="SeriesInput",
        headers={201: LOCATION},
    ),
    ("series_api.get_series", "GET"): Operation(
        "A series and its occurrences", "training", Access.OPTIONAL, {200: "SeriesAnswer"}, FOUND
    ),
    ("series_api.update_series", "PUT"): Operation(
        "Change occurrences of a series: this one, it and later ones, or all not over",
        "training",
        Access.SIGNED_IN,
        {200: "SeriesAnswer"},
        (*WRITE, 404, 409, 422),
        body="SeriesChanges",
        query=SERIES_SCOPE,
        description="A missing or unknown scope, a missing `from` or one not of this series: 422.",
    ),
    ("series_api.cancel_series", "DELETE"): Operation(
        "Cancel occurrences of a series: this one, it and later ones, or all not over",
        "training",
        Access.SIGNED_IN,
        {200: "SeriesAnswer"},
        (401, 403, 404, 409, 422),
        query=SERIES_SCOPE,
        description="Canceled dates become the series .ics EXDATEs; `all` also closes the series.",
    ),
    ("standing_api.book", "POST"): Operation(
        "Book the whole series (a standing booking of the caller)",
        "seats",
        Access.SIGNED_IN,
        {201: "StandingBooking", 200: "StandingBooking"},
        (401, 403, 404, 409),
        description="A seat, or a waitlist place where full, on every future occurrence and on occurrences made "
        "later. 200 when the caller had booked it already.",
    ),
    ("standing_api.end", "DELETE"): Operation(
        "End the caller's standing booking: their future seats are given up",
        "seats",
        Access.SIGNED_IN,
        {200: "StandingBookingEnd"},
        (401, 403, 404),
    ),
    # ---------------------------------------------------------------------------------------- seats
    ("seats_api.can_join", "GET"): Operation(
        "May the caller join now, and if not, why",
        "seats",
        Access.OPTIONAL,
        {200: "Eligibility"},
        FOUND,
        headers={200: NO_STORE},
        description="The checks of SPEC 'Joining', in order; the first that fails is the `reason`.",
    ),
    ("seats_api.join", "POST"): Operation(
        "Join: re-check, take a seat if needed, and get the caller's own participant token",
        "seats",
        Access.OPTIONAL,
        {200: "Join"},
        (401, 403, 404, 409, 503),
        headers={200: NO_STORE},
        description="A refusal answers the eligibility's reason as its code (and `reason`, and `opens_at` when "
        "too early): 401 `login_required`, 403 `members_only`, 404 `not_found`, 409 for the others.",
    ),
    ("seats_api.reserve", "POST"): Operation(
        "Reserve a seat (members), or a waitlist place when full",
        "seats",
        Access.SIGNED_IN,
        {201: "Seat", 202: "Seat"},
        (*WRITE, 404, 409, 422),
        body="SeatRequest",
        body_required=False,
        description="201 with a confirmed seat, 202 with a waitlist place.",
    ),
    ("seats_api.cancel", "DELETE"): Operation(
        "Give up the caller's seat or waitlist place",
        "seats",
        Access.SIGNED_IN,
        {200: "Seat"},
        (401, 403, 404, 409),
        description="A released seat goes to the first person on the waitlist.",
    ),
    # ---------------------------------------------------------------------------------------- video
    ("video.provider_webhook", "POST"): Operation(
        "A video provider's webhook delivery",
        "webhooks",
        Access.NONE,
        {200: "WebhookReceipt"},
        (*BODY, 401, 404, 503),
        description="Called by the provider, not by people: verified over the raw body (RealtimeKit: RSA-SHA256 in "
        "`rtk-signature`), stored once by what the signature covers, applied once. A delivery older than 5 "
        "minutes is 400 `webhook_too_old`; a provider that sends no webhooks is 404.",
    ),
    # ---------------------------------------------------------------------------------------- this document
    ("openapi.document", "GET"): Operation(
        "This OpenAPI 3.1 document", "documentation", Access.NONE, {200: {"type": "object"}}
    ),
    ("openapi.viewer", "GET"): Operation(
        "This document, rendered for people",
        "documentation",
        Access.NONE,
        {200: {"type": "string"}},
        media_type="text/html",
    ),
}
