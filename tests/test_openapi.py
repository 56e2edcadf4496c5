"""GET /api/openapi.json is an OpenAPI 3.1 document of the whole JSON API, built from the code, and /api/docs
renders it with the vendored Swagger UI.

The document cannot drift from the handlers: a route under /api/ with no documented operation fails here, a
documented operation with no route fails here, the request shapes are the rules' writable fields, and the answers
of a real walk through the API (every operation, its successes and its refusals) must match their documented
schemas. tests/test_api_fuzz.py does the same with generated requests.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import schemathesis

from portal.core.clock import now_utc
from portal.events import rules as event_rules
from portal.openapi.document import (
    build_document,
    documented_rules,
    openapi_path,
    route_methods,
    undocumented_routes,
    unrouted_operations,
)
from portal.openapi.operations import OPERATIONS, Access
from portal.openapi.views import SWAGGER_UI
from portal.training import rules as session_rules
from tests.conftest import PASSWORD

STATIC = Path(__file__).resolve().parent.parent / "static"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
# What `npm pack swagger-ui-dist@5.35.0` holds: the vendored copy is that release, unmodified.
VENDORED_SHA256 = {
    "swagger-ui-bundle.js": "e6a898692f2d768e807c3ba4626068a69a2c5dd960dd6c76f3e4d3a3de180af2",
    "swagger-ui.css": "5ed08757e53da3e026d6cbecc61fe5d43585c9560b302d534ad56692519a273d",
}


@pytest.fixture
def document(client) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


# --------------------------------------------------------------------------------------------- the document
def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(document).validate()  # the OpenAPI 3.1 meta-schema


def test_every_schema_in_the_document_is_valid_json_schema_2020_12(document):
    schemas = list(_schemas_in(document))
    assert len(schemas) > 20
    invalid = [where for where, schema in schemas if not jsonschema_rs.meta.is_valid({"$schema": DIALECT, **schema})]
    assert invalid == []


def test_every_reference_in_the_document_resolves(document):
    refs = set(re.findall(r'"\$ref": "(#/[^"]+)"', json.dumps(document)))
    assert refs
    for ref in refs:
        assert _resolve(document, ref) is not None, ref


def test_every_operation_loads_in_the_fuzzer(document):
    loaded = list(schemathesis.openapi.from_dict(document).get_all_operations())
    assert all(result.ok() for result in loaded)
    assert len(loaded) == sum(len(_methods(item)) for item in document["paths"].values())


def test_every_json_route_is_documented_and_every_documented_operation_has_a_route(app):
    assert undocumented_routes(app) == []
    assert unrouted_operations(app) == []


def test_the_documents_paths_methods_and_path_parameters_are_the_url_maps(app, document):
    methods: dict[str, set[str]] = {}
    arguments: dict[str, set[str]] = {}
    for rule in documented_rules(app.url_map):
        methods.setdefault(openapi_path(rule), set()).update(route_methods(rule))
        arguments.setdefault(openapi_path(rule), set()).update(rule.arguments)
    assert set(document["paths"]) == set(methods)
    for path, item in document["paths"].items():
        assert {m.upper() for m in _methods(item)} == methods[path], path
        assert {p["name"] for p in item.get("parameters", [])} == arguments[path], path
        assert all(p["in"] == "path" and p["required"] for p in item.get("parameters", [])), path


def test_a_route_added_under_api_without_documentation_is_found(make_app):
    other = make_app()
    other.add_url_rule("/api/reports/<int:report_id>", "reports.show", lambda report_id: "")
    assert undocumented_routes(other) == ["GET /api/reports/<int:report_id>"]
    assert "/api/reports/{report_id}" not in build_document(other)["paths"]


def test_every_documented_status_of_an_error_answers_the_error_body(document):
    for path, item in document["paths"].items():
        for method, operation in _methods(item).items():
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    content = _resolve(document, answer["$ref"])["content"]
                    assert content == {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}, (
                        method,
                        path,
                        status,
                    )


def test_writes_offer_the_bearer_token_or_the_cookie_with_its_csrf_token(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["cookieAuth"]["in"] == "cookie"
    assert "X-CSRFToken" in schemes["cookieAuth"]["description"]
    create = document["paths"]["/api/training/sessions"]["post"]
    assert create["security"] == [{"bearerAuth": []}, {"cookieAuth": []}]
    assert document["paths"]["/api/auth/token"]["post"]["security"] == []


def test_the_request_shapes_are_the_rules_fields(document):
    schemas = document["components"]["schemas"]
    for name in ("SessionInput", "SessionChanges"):
        assert set(schemas[name]["properties"]) == set(session_rules.WRITABLE_FIELDS), name
    assert set(schemas["SessionInput"]["required"]) == set(session_rules.REQUIRED_FIELDS)
    for name in ("EventInput", "EventChanges"):
        assert set(schemas[name]["properties"]) == set(event_rules.WRITABLE_FIELDS), name
    assert set(schemas["EventInput"]["required"]) == set(event_rules.REQUIRED_FIELDS)


# --------------------------------------------------------------------------------------------- real answers
class Contract:
    """Sends requests through a test client and holds every answer to the document."""

    def __init__(self, app, document: dict[str, Any]):
        self.document = document
        self.routes = app.url_map.bind("portal.test")
        self.seen: set[tuple[str, str, int]] = set()

    def __call__(self, client, method: str, path: str, *, status: int, **kwargs) -> Any:
        response = client.open(path, method=method, **kwargs)
        template = self.template_of(method, path)
        operation = self.document["paths"][template][method.lower()]
        assert response.status_code == status, (method, path, response.status_code, response.get_data(as_text=True))
        answers = operation["responses"]
        assert str(status) in answers, f"{method} {template} answered {status}, which its document does not name"
        answer = answers[str(status)]
        answer = _resolve(self.document, answer["$ref"]) if "$ref" in answer else answer
        schema = answer["content"]["application/json"]["schema"]
        assert response.mimetype == "application/json"
        errors = [error.message for error in self.validator(schema).iter_errors(response.get_json())]
        assert errors == [], (method, template, status, errors)
        for name in answer.get("headers", {}):
            assert name in response.headers, (method, template, status, name)
        self.seen.add((method.lower(), template, status))
        return response.get_json()

    def validator(self, schema: dict[str, Any]):
        root = {"$schema": DIALECT, **schema, "components": self.document["components"]}
        return jsonschema_rs.validator_for(root, validate_formats=True)

    def template_of(self, method: str, path: str) -> str:
        rule, _ = self.routes.match(path.split("?")[0], method=method, return_rule=True)
        return openapi_path(rule)


def session_body(**fields: Any) -> dict[str, Any]:
    return {
        "title": "Kata basics",
        "start_time": (now_utc() + timedelta(minutes=5)).isoformat(),
        "duration_minutes": 60,
        **fields,
    }


def test_a_walk_through_the_whole_api_answers_as_documented(document, app, api_client, make_user):
    check = Contract(app, document)
    anonymous = app.test_client()
    board, _ = api_client("board_member")
    instructor_client, _ = api_client("instructor")
    member, _ = api_client("member")
    second_member, _ = api_client("member")
    public_user, _ = api_client("public")
    account = make_user("member")

    token = check(anonymous, "POST", "/api/auth/token", status=200, json={"email": account.email, "password": PASSWORD})
    check(anonymous, "POST", "/api/auth/token", status=401, json={"email": account.email, "password": "wrong" * 3})
    check(anonymous, "POST", "/api/auth/token", status=422, json={"email": ""})
    check(anonymous, "POST", "/api/auth/token", status=400, data="{", content_type="application/json")
    me = app.test_client()
    me.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token['token']}"
    assert check(me, "GET", "/api/me", status=200)["email"] == account.email
    check(anonymous, "GET", "/api/me", status=401)
    check(anonymous, "POST", "/api/auth/password-reset", status=202, json={"email": account.email})
    check(anonymous, "POST", "/api/auth/password-reset", status=422, json={})
    check(
        anonymous,
        "POST",
        "/api/auth/password-reset/confirm",
        status=400,
        json={"token": "junk", "password": "a long new password"},
    )
    check(anonymous, "POST", "/api/auth/password-reset/confirm", status=422, json={})
    check(
        me,
        "PUT",
        "/api/me/password",
        status=422,
        json={"current_password": "not the password", "new_password": "a long new password"},
    )
    check(anonymous, "PUT", "/api/me/password", status=401, json={})

    event = check(
        board,
        "POST",
        "/api/events",
        status=201,
        json={
            "title": "Summer camp",
            "start_time": (now_utc() + timedelta(days=1)).isoformat(),
            "end_time": (now_utc() + timedelta(days=2)).isoformat(),
            "visibility": "public",
        },
    )
    check(member, "POST", "/api/events", status=403, json={"title": "x"})
    check(board, "POST", "/api/events", status=422, json={"title": ""})
    check(board, "PUT", f"/api/events/{event['id']}", status=200, json={"location": "Dojo"})
    check(board, "PUT", "/api/events/999999", status=404, json={"location": "Dojo"})

    session = check(
        instructor_client,
        "POST",
        "/api/training/sessions",
        status=201,
        json=session_body(event_id=event["id"], capacity=1, tags=["Kata"], recording_enabled=True, is_public=True),
    )
    url = f"/api/training/sessions/{session['id']}"
    check(anonymous, "POST", "/api/training/sessions", status=401, json=session_body())
    check(member, "POST", "/api/training/sessions", status=403, json=session_body())
    check(instructor_client, "POST", "/api/training/sessions", status=422, json=session_body(duration_minutes=5))
    check(instructor_client, "POST", "/api/training/sessions", status=400, data="[1]", content_type="application/json")
    too_large = {"title": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)}
    check(instructor_client, "POST", "/api/training/sessions", status=413, json=too_large)
    check(instructor_client, "PUT", url, status=200, json={"description": "Heian shodan"})
    check(anonymous, "GET", url, status=200)
    check(anonymous, "GET", "/api/training/sessions/999999", status=404)
    bad_token = app.test_client()
    bad_token.environ_base["HTTP_AUTHORIZATION"] = "Bearer junk"
    check(bad_token, "GET", url, status=401)
    page = check(member, "GET", f"/api/training/sessions?event_id={event['id']}&upcoming=true&limit=5", status=200)
    assert [item["id"] for item in page["items"]] == [session["id"]]
    check(member, "GET", "/api/training/sessions?limit=0", status=400)
    sessions = check(anonymous, "GET", f"/api/events/{event['id']}", status=200)["training_sessions"]
    assert [s["id"] for s in sessions] == [session["id"]]
    check(anonymous, "GET", f"/api/events/public/{event['id']}", status=200)
    check(anonymous, "GET", "/api/events/public/999999", status=404)

    assert check(member, "GET", f"{url}/can-join", status=200)["can_join"] is True
    check(anonymous, "GET", f"{url}/can-join", status=200)
    check(member, "POST", f"{url}/seat", status=201, json={"waitlist": True})
    check(second_member, "POST", f"{url}/seat", status=202)
    check(second_member, "DELETE", f"{url}/seat", status=200)
    check(second_member, "DELETE", f"{url}/seat", status=409)
    check(public_user, "POST", f"{url}/seat", status=403)
    check(member, "POST", f"{url}/seat", status=422, json={"waitlist": "yes"})

    check(member, "POST", f"{url}/start", status=403)
    check(instructor_client, "POST", f"{url}/end", status=409)
    assert check(instructor_client, "POST", f"{url}/start", status=200)["status"] == "live"
    check(anonymous, "POST", f"{url}/join", status=401)
    assert check(member, "POST", f"{url}/join", status=200)["status"] == "live"
    check(second_member, "POST", f"{url}/join", status=409)  # full: the one seat is taken
    ended = check(instructor_client, "POST", f"{url}/end", status=200)
    assert ended["end_reason"] == "instructor"
    check(instructor_client, "PUT", url, status=409, json={"title": "Too late"})

    other = check(instructor_client, "POST", "/api/training/sessions", status=201, json=session_body())
    lead_url = f"/api/training/sessions/{other['id']}/lead"
    board_id = check(board, "GET", "/api/me", status=200)["id"]
    check(member, "PUT", lead_url, status=403, json={"instructor_id": board_id})
    check(instructor_client, "PUT", lead_url, status=422, json={"instructor_id": 999999})
    handed = check(
        instructor_client, "PUT", lead_url, status=200, json={"instructor_id": board_id, "keep_as_assistant": True}
    )
    assert handed["instructor_id"] == board_id and len(handed["assistant_ids"]) == 1  # the old lead stays on
    canceled = check(instructor_client, "DELETE", f"/api/training/sessions/{other['id']}", status=200)
    assert canceled["status"] == "canceled"
    check(instructor_client, "DELETE", f"/api/training/sessions/{other['id']}", status=409)

    series_body = {
        "title": "Kihon",
        "duration_minutes": 60,
        "capacity": 1,
        "first_start": (now_utc() + timedelta(days=2)).strftime("%Y-%m-%dT18:00"),
        "time_zone": "Europe/Berlin",
        "weekdays": ["MO", "WE"],
        "count": 4,
    }
    made = check(instructor_client, "POST", "/api/training/series", status=201, json=series_body)
    series_url = f"/api/training/series/{made['series']['id']}"
    first = made["occurrence_ids"][0]
    check(instructor_client, "POST", "/api/training/series", status=422, json={**series_body, "weekdays": []})
    check(member, "GET", series_url, status=200)
    check(anonymous, "GET", "/api/training/series/999999", status=404)
    check(instructor_client, "PUT", f"{series_url}?scope=all&from={first}", status=200, json={"capacity": 2})
    check(instructor_client, "PUT", f"{series_url}?scope=all", status=422, json={"capacity": 2})
    check(member, "POST", f"{series_url}/booking", status=201)
    check(member, "POST", f"{series_url}/booking", status=200)
    check(member, "DELETE", f"{series_url}/booking", status=200)
    check(member, "DELETE", f"{series_url}/booking", status=404)
    check(instructor_client, "DELETE", f"{series_url}?scope=following&from={first}", status=200)

    called = {(method, template) for method, template, _ in check.seen}
    for path, item in document["paths"].items():
        for method, operation in _methods(item).items():
            if operation["tags"][0] not in ("webhooks", "documentation"):
                assert (method, path) in called, f"the walk never called {method.upper()} {path}"


def test_signed_in_operations_refuse_an_anonymous_caller_with_the_error_body(app, document):
    check = Contract(app, document)
    anonymous = app.test_client()
    refused = 0
    for rule in documented_rules(app.url_map):
        for method in route_methods(rule):
            if OPERATIONS[(rule.endpoint, method)].access is not Access.SIGNED_IN:
                continue
            concrete = re.sub(r"\{\w+\}", "1", openapi_path(rule))
            body = {"json": {}} if OPERATIONS[(rule.endpoint, method)].body else {}
            error = check(anonymous, method, concrete, status=401, **body)
            assert error["error"]["code"] == "login_required"
            refused += 1
    assert refused >= 10


# --------------------------------------------------------------------------------------------- the viewer
def test_the_docs_page_serves_the_vendored_viewer_under_the_portals_csp(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe" not in csp
    html = response.get_data(as_text=True)
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts and all('src="/static/' in attributes and not body.strip() for attributes, body in scripts)
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert f"/static/{SWAGGER_UI}/swagger-ui-bundle.js" in assets
    assert f"/static/{SWAGGER_UI}/swagger-ui.css" in assets
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        served.close()
    assert 'data-document-url="/api/openapi.json"' in html
    assert "http://" not in html.replace("http://portal.test", "") and "https://" not in html


def test_the_vendored_viewer_is_the_pinned_release_with_its_license():
    folder = STATIC / SWAGGER_UI
    for name, digest in VENDORED_SHA256.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    assert "Apache License" in (folder / "LICENSE").read_text()
    assert (folder / "NOTICE").exists()


@pytest.mark.slow
@pytest.mark.e2e
def test_the_docs_page_renders_every_operation_in_chromium(page_as, document):
    page = page_as(None)
    problems: list[str] = []

    def on_console(message) -> None:
        if "Content Security Policy" in message.text:  # a script or style the portal's CSP refused
            problems.append(message.text)

    def on_response(answer) -> None:
        if answer.status >= 400 and not answer.url.endswith("/favicon.ico"):
            problems.append(f"{answer.status} {answer.url}")

    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("console", on_console)
    page.on("response", on_response)
    page.goto("/api/docs")
    page.wait_for_selector(".opblock")
    assert page.locator(".info .title").first.inner_text().startswith("Training Portal API")
    operations = sum(len(_methods(item)) for item in document["paths"].values())
    assert page.locator(".opblock").count() == operations
    page.locator(".opblock-summary").first.click()
    page.wait_for_selector(".opblock-body")
    assert problems == []


# --------------------------------------------------------------------------------------------- helpers
def _methods(path_item: dict[str, Any]) -> dict[str, Any]:
    verbs = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
    return {method: operation for method, operation in path_item.items() if method in verbs}


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) else None
    return node


def _schemas_in(node: Any, where: str = "#") -> list[tuple[str, dict[str, Any]]]:
    """Every schema object of the document: the components' and those inline in parameters and contents."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "schema" and isinstance(value, dict):
                found.append((f"{where}/schema", value))
            elif key == "schemas" and where == "#/components":
                found.extend((f"{where}/schemas/{name}", schema) for name, schema in value.items())
            else:
                found.extend(_schemas_in(value, f"{where}/{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_schemas_in(value, f"{where}/{index}"))
    return found
