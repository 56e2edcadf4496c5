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


# ------------------------------------------------------------------------------------------------ issue 12
# The session day's pages and endpoints, for every role and the session's own people: "assistant" and "lead" are
# the assistant and the lead instructor of the sessions under test ("instructor" teaches none of them). The
# sessions: "done" ended, open to all, its recording ready; "done_mo" the same, members only; "done_hidden" a
# members session (not public); "next" ahead, led by the lead. "hidden_teacher" teaches only a members session.
# "trainee" is a member (for another person's training log); "feed" is the trainee's calendar feed secret.
ROLES_12 = ["anonymous", "public", "member", "instructor", "assistant", "lead", "board_member", "admin"]
WATCH = 303  # the watch route redirects to the provider's link, fetched at that moment

# (method, url, body, expected status for: anonymous, public, member, instructor, assistant, lead, board, admin)
PAGES_12 = [
    ("GET", "/sessions/{done}/ended", None, (200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET", "/sessions/{done_mo}/ended", None, (200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET", "/sessions/{done_hidden}/ended", None, (404, 404, 200, 200, 200, 200, 200, 200)),
    ("GET", "/sessions/424242/ended", None, (404, 404, 404, 404, 404, 404, 404, 404)),
    ("GET", "/recordings", None, (LOGIN, 200, 200, 200, 200, 200, 200, 200)),
    ("GET", "/recordings/{done}/watch", None, (LOGIN, WATCH, WATCH, WATCH, WATCH, WATCH, WATCH, WATCH)),
    ("GET", "/recordings/{done_mo}/watch", None, (LOGIN, 404, WATCH, WATCH, WATCH, WATCH, WATCH, WATCH)),
    ("GET", "/recordings/{done_hidden}/watch", None, (LOGIN, 404, WATCH, WATCH, WATCH, WATCH, WATCH, WATCH)),
    ("GET", "/recordings/{next}/watch", None, (LOGIN, 404, 404, 404, 404, 404, 404, 404)),  # no recording
    ("GET", "/recordings/424242/watch", None, (LOGIN, 404, 404, 404, 404, 404, 404, 404)),
    ("GET", "/sessions/{done}/attendance.csv", None, (404, 403, 403, 403, 200, 200, 200, 200)),
    ("GET", "/sessions/{done_hidden}/attendance.csv", None, (404, 404, 403, 403, 200, 200, 200, 200)),
    ("POST", "/sessions/{next}/lead", {"instructor_id": "{substitute}"}, (LOGIN, 403, 403, 403, 403, 302, 302, 302)),
    ("POST", "/sessions/{next}/lead", {"instructor_id": "{trainee}"}, (LOGIN, 403, 403, 403, 403, 422, 422, 422)),
    ("GET", "/instructors/{lead}", None, (200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET", "/instructors/{hidden_teacher}", None, (404, 404, 200, 200, 200, 200, 200, 200)),
    ("GET", "/instructors/{trainee}", None, (404, 404, 404, 404, 404, 404, 404, 200)),  # not an instructor
    ("POST", "/account/profile-page", {"bio": "Judo since 1990."}, (LOGIN, 403, 403, 302, 302, 302, 302, 302)),
    ("GET", "/uploads/photos/{photo}", None, (200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET", "/uploads/photos/AAAAAAAAAAAAAAAAAAAAAA.jpg", None, (404, 404, 404, 404, 404, 404, 404, 404)),
    ("GET", "/my/training-log", None, (LOGIN, 200, 200, 200, 200, 200, 200, 200)),
    ("GET", "/my/training-log.csv", None, (LOGIN, 200, 200, 200, 200, 200, 200, 200)),
    ("GET", "/people/{trainee}/training-log", None, (404, 404, 404, 200, 200, 200, 200, 200)),
    ("GET", "/people/{trainee}/training-log.csv", None, (404, 404, 404, 200, 200, 200, 200, 200)),
    ("GET", "/calendar/{feed}.ics", None, (200, 200, 200, 200, 200, 200, 200, 200)),  # the secret is the key
    ("GET", "/calendar/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.ics", None, (404, 404, 404, 404, 404, 404, 404, 404)),
    ("GET", "/timetable", None, (200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET", "/brand.css", None, (200, 200, 200, 200, 200, 200, 200, 200)),
]

API_12 = [
    (
        "PUT",
        "/api/training/sessions/{next}/lead",
        {"instructor_id": "{substitute}"},
        (401, 403, 403, 403, 403, 200, 200, 200),
    ),
    (
        "PUT",
        "/api/training/sessions/{next}/lead",
        {"instructor_id": "{trainee}"},
        (401, 403, 403, 403, 403, 422, 422, 422),
    ),
    (
        "PUT",
        "/api/training/sessions/{done_hidden}/lead",
        {"instructor_id": "{substitute}"},
        (401, 404, 403, 403, 403, 409, 409, 409),
    ),
    ("GET", "/api/training/sessions/{done_mo}", None, (200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET", "/api/training/sessions/{done_hidden}", None, (404, 404, 200, 200, 200, 200, 200, 200)),
]


@pytest.fixture
def cast(clock, make_session, make_user):
    """The people and sessions of the issue 12 matrix (ids and secrets by name, users under "users")."""
    from portal.core import uploads
    from portal.seats import feed
    from portal.training.models import SessionAssistant
    from tests.test_uploads import image_bytes

    def person(role: str, name: str) -> User:
        user = User(email=f"{name.lower()}@example.org", name=name, role=role, password_hash="!unusable")
        db.session.add(user)
        db.session.commit()
        return user

    lead, assistant = person("instructor", "Lead"), person("instructor", "Assistant")
    substitute, hidden_teacher = person("instructor", "Substitute"), person("instructor", "Hidden")
    trainee = person("member", "Trainee")

    def recorded(**fields):
        ended = clock.now() - timedelta(hours=1)
        session = make_session(
            instructor=lead,
            start_time=ended - timedelta(hours=1),
            recording_enabled=True,
            status="ended",
            started_at=ended - timedelta(hours=1),
            ended_at=ended,
            recording_id="rec",
            recording_status="ready",
            recording_url_expires_at=clock.now() + timedelta(days=60),
            **fields,
        )
        db.session.add(SessionAssistant(session_id=session.id, user_id=assistant.id))
        db.session.commit()
        return session

    upcoming = make_session(instructor=lead, is_public=True, start_in=timedelta(days=2))
    db.session.add(SessionAssistant(session_id=upcoming.id, user_id=assistant.id))
    make_session(instructor=hidden_teacher, is_public=False, start_in=timedelta(days=3))
    processed = uploads.process_image(image_bytes("PNG", (32, 32)), max_side=512, max_bytes=1024 * 1024)
    photo = uploads.store("photos", processed)
    ids = {
        "done": recorded(is_public=True, members_only=False).id,
        "done_mo": recorded(is_public=True, members_only=True).id,
        "done_hidden": recorded(is_public=False).id,
        "next": upcoming.id,
        "lead": lead.id,
        "substitute": substitute.id,
        "hidden_teacher": hidden_teacher.id,
        "trainee": trainee.id,
        "feed": feed.feed_secret(trainee),
        "photo": photo,
    }
    db.session.commit()
    yield {**ids, "users": {"lead": lead, "assistant": assistant}}
    uploads.delete("photos", photo)


def _cases_12(table):
    return [
        pytest.param(method, url, body, role, expected[i], id=f"{method} {url} as {role}")
        for method, url, body, expected in table
        for i, role in enumerate(ROLES_12)
    ]


def _fill(body, ids):
    if body is None:
        return None
    return {key: value.format(**ids) if isinstance(value, str) else value for key, value in body.items()}


@pytest.mark.parametrize(("method", "url", "body", "role", "expected"), _cases_12(PAGES_12))
def test_session_day_page_access(client, login_as, cast, method, url, body, role, expected):
    if role in cast["users"]:
        login_as(cast["users"][role])
    elif role != "anonymous":
        login_as(role)
    target = url.format(**cast)
    if method == "GET":
        response = client.get(target)
    else:
        response = client.post(target, data={**_fill(body, cast), "csrf_token": csrf_token(client)})
    response.close()  # an upload is streamed from its file
    assert response.status_code == expected, response.get_data(as_text=True)[:500]
    if expected == LOGIN and role == "anonymous":
        assert "/login" in response.headers["Location"]
    if expected == WATCH:  # the local provider's page, asked for now; never cached
        assert response.headers["Location"].startswith("http://portal.test/static/video/local-recording.html")
        assert "no-store" in response.headers["Cache-Control"]


@pytest.mark.parametrize(("method", "url", "body", "role", "expected"), _cases_12(API_12))
def test_session_day_api_access(client, api_client, cast, method, url, body, role, expected):
    caller = client if role == "anonymous" else api_client(cast["users"].get(role, role))[0]
    body = _fill(body, cast)
    if body and "instructor_id" in body:
        body["instructor_id"] = int(body["instructor_id"])
    response = caller.open(url.format(**cast), method=method, json=body)
    assert response.status_code == expected, response.get_data(as_text=True)[:500]
    assert response.is_json
    if expected >= 400:
        assert set(response.json["error"]) >= {"code", "message"}
