"""The OpenAPI 3.1 document of an app, assembled with apispec from three sources that cannot drift apart:
the app's url_map (every path, method and path parameter), operations.OPERATIONS (what each one takes and
answers) and schemas.components() (the shapes)."""

from __future__ import annotations

import re
from http import HTTPStatus
from importlib import metadata
from typing import Any

from apispec import APISpec
from flask import Flask
from werkzeug.routing import Map, Rule

from portal.openapi.operations import ERRORS, OPERATIONS, Access, Operation, Query
from portal.openapi.schemas import Schema, components, identifier, ref

TITLE = "Training Portal API"
API_PREFIX = "/api/"
# JSON endpoints outside /api/: the providers' webhooks.
OTHER_JSON_ENDPOINTS = frozenset({"video.provider_webhook"})
IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})  # Werkzeug answers these for every route by itself

# `<converter(arguments):name>` or `<name>` in a Werkzeug rule.
ROUTE_ARGUMENT = re.compile(r"<(?:(?P<converter>\w+)(?:\((?P<arguments>[^)]*)\))?:)?(?P<name>\w+)>")
PATH_PARAMETERS = {
    "session_id": "The training session's id.",
    "event_id": "The event's id.",
    "provider": "The video provider's name (`cloudflare`); a provider that sends no webhooks answers 404.",
}
SECURITY: dict[Access, list[dict[str, list[str]]]] = {
    Access.NONE: [],
    Access.OPTIONAL: [{}, {"bearerAuth": []}, {"cookieAuth": []}],
    Access.SIGNED_IN: [{"bearerAuth": []}, {"cookieAuth": []}],
}
SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A token from POST /api/auth/token, sent as `Authorization: Bearer <token>`. A token that "
        "does not check out (expired, or its owner's password changed) is 401, never anonymity.",
    },
    "cookieAuth": {
        "type": "apiKey",
        "in": "cookie",
        "name": "session",
        "description": "The browser session of a person signed in on the portal's pages. Every write (POST, PUT, "
        "DELETE) on it must also send the page's CSRF token in the `X-CSRFToken` header, whatever other headers "
        "come with it; without it the write is refused (400 `csrf_failed`). A request is authenticated by a valid "
        "bearer token or by the cookie with its CSRF token, never by a mix of the two.",
    },
}
TAGS = [
    ("accounts", "Tokens and the signed-in caller."),
    ("events", "Events and the training sessions they hold."),
    ("training", "Training sessions and their lifecycle: scheduled, live, ended or canceled."),
    ("seats", "Joining, seats and the waitlist."),
    ("webhooks", "What the video provider tells the portal."),
    ("documentation", "This document."),
]
DESCRIPTION = """The JSON API of the Training Portal.

**Credentials.** Exchange an email and password for a bearer token (`POST /api/auth/token`) and send it as
`Authorization: Bearer <token>`; or, from the portal's own pages, ride on the browser session: then every write
must carry the page's CSRF token in `X-CSRFToken`.

**Errors.** Every refusal is JSON: `{"error": {"code", "message", "fields"?}}`. 400 malformed, 401 no or bad
credentials, 403 not allowed, 404 not found (or not visible to the caller), 409 wrong state, 413 body too large,
422 invalid fields (`fields` names each), 429 too many attempts, 503 the video provider could not be reached.

**Times** are ISO 8601 with an offset; the API answers in UTC and refuses a time without an offset."""


# --------------------------------------------------------------------------------------------- the url_map
def documented_rules(url_map: Map) -> list[Rule]:
    """The JSON routes: every route under /api/, and the webhooks."""
    rules = [r for r in url_map.iter_rules() if r.rule.startswith(API_PREFIX) or r.endpoint in OTHER_JSON_ENDPOINTS]
    return sorted(rules, key=lambda rule: rule.rule)


def route_methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - IGNORED_METHODS)


def undocumented_routes(app: Flask) -> list[str]:
    """`METHOD /path` of every JSON route with no entry in OPERATIONS (the document leaves it out)."""
    return [
        f"{method} {rule.rule}"
        for rule in documented_rules(app.url_map)
        for method in route_methods(rule)
        if (rule.endpoint, method) not in OPERATIONS
    ]


def unrouted_operations(app: Flask) -> list[tuple[str, str]]:
    """Entries of OPERATIONS that no route of `app` serves (a handler renamed or removed)."""
    routed = {(rule.endpoint, method) for rule in documented_rules(app.url_map) for method in route_methods(rule)}
    return sorted(set(OPERATIONS) - routed)


def openapi_path(rule: Rule) -> str:
    """`/api/training/sessions/<int:session_id>` -> `/api/training/sessions/{session_id}`."""
    return ROUTE_ARGUMENT.sub(lambda match: "{" + match["name"] + "}", rule.rule)


def path_parameters(rule: Rule) -> list[dict[str, Any]]:
    return [
        {
            "name": match["name"],
            "in": "path",
            "required": True,
            "schema": converter_schema(match["converter"] or "default", match["name"]),
        }
        for match in ROUTE_ARGUMENT.finditer(rule.rule)
    ]


def converter_schema(converter: str, name: str) -> Schema:
    """What a Werkzeug converter lets through. Integers in paths are ids: any other number answers 404."""
    description = PATH_PARAMETERS.get(name, "")
    if converter == "int":
        return identifier(description)
    if converter in ("default", "string"):
        return {"type": "string", "minLength": 1, "pattern": "^[^/]+$", "description": description}
    raise ValueError(f"no schema for the {converter!r} converter of <{name}>; add it to converter_schema")


# --------------------------------------------------------------------------------------------- operations
def operation_object(rule: Rule, method: str, operation: Operation) -> dict[str, Any]:
    item: dict[str, Any] = {
        "operationId": f"{rule.endpoint}" if len(route_methods(rule)) == 1 else f"{rule.endpoint}.{method.lower()}",
        "summary": operation.summary,
        "tags": [operation.tag],
        "security": SECURITY[operation.access],
        "responses": responses(operation),
    }
    if operation.description:
        item["description"] = operation.description
    if operation.query:
        item["parameters"] = [query_parameter(q) for q in operation.query]
    if operation.body:
        item["requestBody"] = {
            "required": operation.body_required,
            "content": {"application/json": {"schema": ref(operation.body)}},
        }
    return item


def query_parameter(query: Query) -> dict[str, Any]:
    """portal.core.api reads an empty query value (`?status=`) as an absent one: the default."""
    return {
        "name": query.name,
        "in": "query",
        "required": False,
        "allowEmptyValue": True,
        "schema": query.schema,
        "description": f"{query.description} Empty: the default.",
    }


def responses(operation: Operation) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for status, body in operation.answers.items():
        answer: dict[str, Any] = {"description": HTTPStatus(status).phrase}
        if body is not None:
            schema = ref(body) if isinstance(body, str) else body
            answer["content"] = {operation.media_type: {"schema": schema}}
        headers = operation.headers.get(status)
        if headers:
            answer["headers"] = {name: {"required": True, "schema": schema} for name, schema in headers.items()}
        answers[str(status)] = answer
    for status in sorted(operation.errors):
        answers[str(status)] = {"$ref": f"#/components/responses/{ERRORS[status][0]}"}
    return answers


def error_response(status: int, description: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": ref("Error")}},
    }
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer", "minimum": 0}}}
    return response


# --------------------------------------------------------------------------------------------- the document
def build_document(app: Flask) -> dict[str, Any]:
    spec = APISpec(
        title=TITLE,
        version=_portal_version(),
        openapi_version="3.1.0",
        info={"description": DESCRIPTION},
    )
    for name, schema in components().items():
        spec.components.schema(name, schema)
    for status, (name, description) in ERRORS.items():
        spec.components.response(name, error_response(status, description))
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    for name, description in TAGS:
        spec.tag({"name": name, "description": description})
    for rule in documented_rules(app.url_map):
        operations = {
            method.lower(): operation_object(rule, method, OPERATIONS[(rule.endpoint, method)])
            for method in route_methods(rule)
            if (rule.endpoint, method) in OPERATIONS
        }
        if operations:
            spec.path(path=openapi_path(rule), operations=operations, parameters=path_parameters(rule))
    return spec.to_dict()


def _portal_version() -> str:
    try:
        return metadata.version("training-portal")
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "0.0.0"
