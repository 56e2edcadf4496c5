"""Every page and endpoint of accounts, events, training sessions and the audit log, against every role and
anonymous: the status code each gets. Authorisation is decided in Python, so a crafted request gets the same answer
as a click.

The session under test belongs to another instructor (a stranger to every signed-in role here); "hidden" is a
members-only session, "members" a members-only event.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.accounts.models import User
from portal.extensions import db
from tests.conftest import csrf_token

ROLES = ["anonymous", "public", "member", "instructor", "board_member", "admin"]
LOGIN = 302  # a browser without a session is sent to the sign-in page

SESSION_BODY = {"title": "Matrix", "start_time": "2026-12-20T10:00:00+00:00", "duration_minutes": 60}
EVENT_BODY = {
    "title": "Matrix event",
    "start_time": "2026-12-20T10:00:00+00:00",
    "end_time": "2026-12-20T12:00:00+00:00",
}

# (method, url, body, expected status for: anonymous, public, member, instructor, board_member, admin)
PAGES = [
    ("GET", "/", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/sessions", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/sessions?past=1", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/sessions/{public}", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/sessions/{hidden}", None, (404, 404, 200, 200, 200, 200)),
    ("GET", "/sessions/424242", None, (404, 404, 404, 404, 404, 404)),
    ("GET", "/sessions/new", None, (LOGIN, 403, 403, 200, 200, 200)),
    ("POST", "/sessions/new", {"title": ""}, (LOGIN, 403, 403, 422, 422, 422)),
    ("GET", "/sessions/{public}/edit", None, (LOGIN, 403, 403, 403, 200, 200)),
    ("POST", "/sessions/{public}/edit", {"title": ""}, (LOGIN, 403, 403, 403, 422, 422)),
    ("GET", "/sessions/{hidden}/edit", None, (LOGIN, 403, 403, 403, 200, 200)),
    ("GET", "/sessions/{public}/cancel", None, (LOGIN, 403, 403, 403, 200, 200)),
    ("POST", "/sessions/{public}/cancel", {}, (LOGIN, 403, 403, 403, 302, 302)),
    ("POST", "/sessions/{public}/start", {}, (LOGIN, 403, 403, 403, 403, 403)),
    ("POST", "/sessions/{live}/end", {}, (LOGIN, 403, 403, 403, 403, 403)),
    ("GET", "/my/sessions", None, (LOGIN, 403, 403, 200, 200, 200)),
    ("GET", "/events", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/events/{event}", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/events/{members}", None, (404, 404, 200, 200, 200, 200)),
    ("GET", "/events/new", None, (LOGIN, 403, 403, 403, 200, 200)),
    ("POST", "/events/new", {"title": ""}, (LOGIN, 403, 403, 403, 422, 422)),
    ("GET", "/events/{event}/edit", None, (LOGIN, 403, 403, 403, 200, 200)),
    ("POST", "/events/{event}/edit", {"title": ""}, (LOGIN, 403, 403, 403, 422, 422)),
    ("GET", "/events/{members}/edit", None, (LOGIN, 403, 403, 403, 200, 200)),
    ("GET", "/admin/audit", None, (LOGIN, 403, 403, 403, 403, 200)),
    ("GET", "/admin/audit?entity_type=training_session&entity_id={public}", None, (LOGIN, 403, 403, 403, 403, 200)),
    ("GET", "/admin/users", None, (LOGIN, 403, 403, 403, 403, 200)),
    ("GET", "/account", None, (LOGIN, 200, 200, 200, 200, 200)),
    ("GET", "/login", None, (200, 302, 302, 302, 302, 302)),
    ("GET", "/signup", None, (200, 200, 200, 200, 200, 200)),
]

API = [
    ("GET", "/api/training/sessions", None, (200, 200, 200, 200, 200, 200)),
    ("POST", "/api/training/sessions", SESSION_BODY, (401, 403, 403, 201, 201, 201)),
    ("GET", "/api/training/sessions/{public}", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/api/training/sessions/{hidden}", None, (404, 404, 200, 200, 200, 200)),
    ("PUT", "/api/training/sessions/{public}", {"title": "Changed"}, (401, 403, 403, 403, 200, 200)),
    ("PUT", "/api/training/sessions/{hidden}", {"title": "Changed"}, (401, 404, 403, 403, 200, 200)),
    ("DELETE", "/api/training/sessions/{public}", None, (401, 403, 403, 403, 200, 200)),
    ("POST", "/api/training/sessions/{public}/start", None, (401, 403, 403, 403, 403, 403)),
    ("POST", "/api/training/sessions/{live}/end", None, (401, 403, 403, 403, 403, 403)),
    ("POST", "/api/events", EVENT_BODY, (401, 403, 403, 403, 201, 201)),
    ("PUT", "/api/events/{event}", {"location": "Hall"}, (401, 403, 403, 403, 200, 200)),
    ("GET", "/api/events/{event}", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/api/events/{members}", None, (404, 404, 200, 200, 200, 200)),
    ("GET", "/api/events/public/{event}", None, (200, 200, 200, 200, 200, 200)),
    ("GET", "/api/events/public/{members}", None, (404, 404, 404, 404, 404, 404)),
    ("GET", "/api/me", None, (401, 200, 200, 200, 200, 200)),
]


@pytest.fixture
def ids(clock, make_event, make_session):
    stranger = User(email="stranger@example.org", name="Stranger", role="instructor", password_hash="!unusable")
    db.session.add(stranger)  # no password hashing: this matrix has 300 cases
    db.session.commit()
    event = make_event(visibility="public", created_by=stranger)
    return {
        "public": make_session(instructor=stranger, event=event, is_public=True, start_in=timedelta(days=2)).id,
        "hidden": make_session(instructor=stranger, is_public=False).id,
        "live": make_session(instructor=stranger, is_public=True, status="live").id,
        "event": event.id,
        "members": make_event(visibility="members", created_by=stranger).id,
    }


def _cases(table):
    return [
        pytest.param(method, url, body, role, expected[i], id=f"{method} {url} as {role}")
        for method, url, body, expected in table
        for i, role in enumerate(ROLES)
    ]


@pytest.mark.parametrize(("method", "url", "body", "role", "expected"), _cases(PAGES))
def test_page_access(client, login_as, ids, method, url, body, role, expected):
    if role != "anonymous":
        login_as(role)
    target = url.format(**ids)
    if method == "GET":
        response = client.get(target)
    else:
        response = client.post(target, data={**body, "csrf_token": csrf_token(client)})
    assert response.status_code == expected, response.get_data(as_text=True)[:500]
    if expected == LOGIN and role == "anonymous":
        assert "/login" in response.headers["Location"]


@pytest.mark.parametrize(("method", "url", "body", "role", "expected"), _cases(API))
def test_api_access(client, api_client, ids, method, url, body, role, expected):
    caller = client if role == "anonymous" else api_client(role)[0]
    response = caller.open(url.format(**ids), method=method, json=body)
    assert response.status_code == expected, response.get_data(as_text=True)[:500]
    assert response.is_json
    if expected >= 400:
        assert set(response.json["error"]) >= {"code", "message"}


@pytest.mark.parametrize("role", ["instructor", "board_member", "admin"])
def test_the_own_instructor_of_each_rank_may_start_edit_and_end(client, api_client, make_session, role):
    caller, user = api_client(role)
    session = make_session(instructor=user, start_in=timedelta(minutes=5))  # within the start period
    assert caller.put(f"/api/training/sessions/{session.id}", json={"title": "Own"}).status_code == 200
    assert caller.post(f"/api/training/sessions/{session.id}/start").status_code == 200
    assert caller.post(f"/api/training/sessions/{session.id}/end").status_code == 200


def test_attendance_table_is_for_the_instructor_board_and_admins(client, login_as, make_session, make_user):
    instructor = make_user("instructor")
    session = make_session(instructor=instructor, is_public=True)
    expectations = {
        instructor: True,
        make_user("admin"): True,
        make_user("board_member"): True,  # SPEC: board members see the attendance of every session (issue 12)
        make_user("member"): False,
    }
    for user, sees in expectations.items():
        login_as(user)
        page = client.get(f"/sessions/{session.id}").get_data(as_text=True)
        assert ('id="h-attendance"' in page) is sees, user.role
