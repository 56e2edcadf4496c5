"""Joining: the join page for every role, the waiting room, the HTML and JSON join, and every refusal."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.seats.models import Attendance, Seat
from portal.training.models import TrainingSession
from portal.video import get_provider
from portal.video.port import ProviderError
from tests.test_panel import post


def seats_of(session) -> list[tuple[int, str]]:
    return list(db.session.execute(select(Seat.user_id, Seat.status).where(Seat.session_id == session.id)))


def counter(session) -> int:
    db.session.expire_all()
    return db.session.get(TrainingSession, session.id).seats_taken


def attendance_of(session) -> list[Attendance]:
    db.session.expire_all()
    return list(db.session.scalars(select(Attendance).where(Attendance.session_id == session.id)))


@pytest.fixture
def instructor(make_user):
    return make_user("instructor")


@pytest.fixture
def soon(make_session, instructor, clock):
    """A members' session inside the join window, not started yet."""
    return make_session(instructor=instructor, start_in=timedelta(minutes=5), capacity=10)


@pytest.fixture
def live(make_session, instructor, clock):
    return make_session(instructor=instructor, start_in=timedelta(minutes=-2), status="live", capacity=10)


# ------------------------------------------------------------------------------------------------ the join page
@pytest.mark.parametrize(
    ("role", "status", "start_button"),
    [
        ("anonymous", 404, False),
        ("public", 404, False),
        ("member", 200, False),
        ("instructor", 200, False),
        ("board_member", 200, False),
        ("admin", 200, False),
        ("own_instructor", 200, True),
    ],
)
def test_the_join_page_of_a_session_waiting_for_its_instructor_for_every_role(
    client, login_as, soon, instructor, role, status, start_button
):
    if role == "own_instructor":
        login_as(instructor)
    elif role != "anonymous":
        login_as(role)
    response = client.get(f"/sessions/{soon.id}/join")
    assert response.status_code == status
    if status != 200:
        return
    html = response.get_data(as_text=True)
    waiting = "People wait here until you start" if start_button else "Waiting for the instructor to start."
    assert waiting in html
    assert f'hx-get="/sessions/{soon.id}/join/status" hx-trigger="every 2s" hx-swap="outerHTML"' in html
    assert f'href="/sessions/{soon.id}/join">Refresh</a>' in html  # without JavaScript: refresh ...
    assert f'<form method="post" action="/sessions/{soon.id}/join"' in html  # ... and a Join button
    assert (f'action="/sessions/{soon.id}/start"' in html) is start_button
    assert "no-store" in response.headers["Cache-Control"]


def test_an_anonymous_visitor_of_a_public_session_is_sent_to_sign_in(client, make_session, clock):
    session = make_session(start_in=timedelta(minutes=5), is_public=True, members_only=False)
    response = client.get(f"/sessions/{session.id}/join")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/login?next=/sessions/{session.id}/join")


@pytest.mark.parametrize(
    ("role", "message"), [("public", "This session is for members only."), ("member", "Joining opens in")]
)
def test_the_join_page_says_why_one_may_not_join(client, login_as, make_session, clock, role, message):
    login_as(role)
    session = make_session(start_in=timedelta(hours=1), is_public=True, members_only=True)
    html = client.get(f"/sessions/{session.id}/join").get_data(as_text=True)
    assert message in html
    assert f'<form method="post" action="/sessions/{session.id}/join"' not in html


def test_the_join_page_of_a_live_session_offers_join_now_without_a_token(client, login_as, live):
    login_as("member")
    html = client.get(f"/sessions/{live.id}/join").get_data(as_text=True)
    assert "The session is live." in html and "Join now" in html
    assert "Development room" not in html


# ------------------------------------------------------------------------------------------------ HTML join
@pytest.mark.parametrize("role", ["member", "instructor", "board_member", "admin", "own_instructor"])
def test_joining_a_live_session_shows_the_room_for_every_role(client, login_as, live, instructor, role):
    user = login_as(instructor if role == "own_instructor" else role)
    response = post(client, f"/sessions/{live.id}/join")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Development room" in html and user.name in html
    assert ("(host)" in html) is (role == "own_instructor")
    assert "no-store" in response.headers["Cache-Control"]
    assert f'data-leave-url="/sessions/{live.id}/leave"' in html
    rows = attendance_of(live)
    assert [(r.user_id, r.is_present, r.join_count) for r in rows] == [(user.id, True, 1)]
    takes_seat = role in ("member", "instructor", "board_member")
    assert seats_of(live) == ([(user.id, "confirmed")] if takes_seat else [])
    assert counter(live) == (1 if takes_seat else 0)


def test_joining_a_session_that_waits_takes_a_seat_and_goes_to_the_waiting_room(client, login_as, soon):
    member = login_as("member")
    response = post(client, f"/sessions/{soon.id}/join")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/sessions/{soon.id}/join")
    assert seats_of(soon) == [(member.id, "confirmed")]
    assert attendance_of(soon) == []  # nobody is in a room yet


def test_a_double_click_on_join_takes_one_seat(client, login_as, live):
    member = login_as("member")
    for _ in range(2):
        assert post(client, f"/sessions/{live.id}/join").status_code == 200
    assert seats_of(live) == [(member.id, "confirmed")] and counter(live) == 1
    (row,) = attendance_of(live)
    assert row.join_count == 1 and row.is_present


@pytest.mark.parametrize(
    ("fields", "role", "status", "code"),
    [
        ({"status": "canceled"}, "member", 409, "canceled"),
        ({"status": "ended"}, "member", 409, "ended"),
        ({"capacity": 1, "seats_taken": 1}, "member", 409, "full"),
        ({"is_public": True, "members_only": True}, "public", 403, "members_only"),
        ({"start_in": timedelta(minutes=30), "status": "scheduled"}, "member", 409, "too_early"),
        ({"is_public": False}, "public", 404, "not_found"),
    ],
)
def test_a_crafted_join_form_is_refused_with_its_reason_and_takes_nothing(
    client, login_as, make_session, clock, fields, role, status, code
):
    fields = {"start_in": timedelta(minutes=-5), "status": "live", **fields}
    session = make_session(**fields)
    login_as(role)
    response = post(client, f"/sessions/{session.id}/join")
    assert response.status_code == status
    assert "Development room" not in response.get_data(as_text=True)
    assert seats_of(session) == [] and attendance_of(session) == []


def test_an_anonymous_join_post_is_sent_to_sign_in(client, make_session):
    session = make_session(start_in=timedelta(minutes=-5), status="live", is_public=True, members_only=False)
    response = post(client, f"/sessions/{session.id}/join")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/login?next=/sessions/{session.id}/join")
    assert seats_of(session) == []


# ------------------------------------------------------------------------------------------------ waiting room
def test_the_waiting_room_polls_while_scheduled_then_hands_over_a_form_once_live(htmx, login_as, soon):
    login_as("member", client=htmx)
    waiting = htmx.get(f"/sessions/{soon.id}/join/status")
    assert 'hx-trigger="every 2s"' in waiting.get_data(as_text=True)
    assert "no-store" in waiting.headers["Cache-Control"]
    soon.status = "live"
    db.session.commit()
    html = htmx.get(f"/sessions/{soon.id}/join/status").get_data(as_text=True)
    assert "hx-trigger" not in html
    assert re.search(rf'<form method="post" action="/sessions/{soon.id}/join" data-auto-submit>', html)
    assert "Enter the room" in html and 'name="csrf_token"' in html


def test_the_waiting_room_offers_start_only_to_whoever_the_session_page_lets_start(htmx, login_as, soon, instructor):
    login_as(instructor, client=htmx)
    assert "People wait here until you start" in htmx.get(f"/sessions/{soon.id}/join/status").get_data(as_text=True)
    instructor.role = "member"  # no longer an instructor: the session page offers no Start, nor does the waiting room
    db.session.commit()
    assert "Waiting for the instructor to start." in htmx.get(f"/sessions/{soon.id}/join/status").get_data(as_text=True)
    assert f'action="/sessions/{soon.id}/start"' not in htmx.get(f"/sessions/{soon.id}/join").get_data(as_text=True)


def test_the_waiting_room_stops_and_says_why_when_the_session_is_canceled(htmx, login_as, soon):
    login_as("member", client=htmx)
    soon.status = "canceled"
    db.session.commit()
    html = htmx.get(f"/sessions/{soon.id}/join/status").get_data(as_text=True)
    assert "hx-trigger" not in html and "This session was canceled." in html


def test_the_waiting_room_without_htmx_is_the_join_page(client, login_as, soon):
    login_as("member")
    response = client.get(f"/sessions/{soon.id}/join/status")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/sessions/{soon.id}/join")


def test_the_waiting_room_of_an_invisible_session_is_404(htmx, login_as, soon):
    login_as("public", client=htmx)
    assert htmx.get(f"/sessions/{soon.id}/join/status").status_code == 404


# ------------------------------------------------------------------------------------------------ JSON API
def test_the_api_join_returns_this_callers_token_and_the_join_page(api_client, live):
    client, member = api_client("member")
    response = client.post(f"/api/training/sessions/{live.id}/join")
    assert response.status_code == 200
    data = response.get_json()
    assert data["provider"] == "local" and data["room_id"] == db.session.get(TrainingSession, live.id).room_id
    assert get_provider().read_token(data["token"])["user"] == member.id
    assert data["join_url"] == f"http://portal.test/sessions/{live.id}/join"
    assert "no-store" in response.headers["Cache-Control"]
    assert seats_of(live) == [(member.id, "confirmed")]


def test_a_token_never_appears_on_another_persons_pages(api_client, client, login_as, live):
    api, _ = api_client("member")
    token = api.post(f"/api/training/sessions/{live.id}/join").get_json()["token"]
    login_as("member")
    pages = [
        client.get(f"/sessions/{live.id}/join"),
        post(client, f"/sessions/{live.id}/join"),
        client.get(f"/sessions/{live.id}/panel", headers={"HX-Request": "true"}),
        client.get(f"/api/training/sessions/{live.id}/can-join"),
    ]
    for page in pages:
        assert token not in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("fields", "role", "status", "code"),
    [
        ({"status": "canceled"}, "member", 409, "canceled"),
        ({"status": "ended"}, "member", 409, "ended"),
        ({"capacity": 2, "seats_taken": 2}, "member", 409, "full"),
        ({"is_public": True, "members_only": True}, "public", 403, "members_only"),
        ({"is_public": False}, "public", 404, "not_found"),
    ],
)
def test_the_api_refuses_joins_with_the_reason_and_no_token(api_client, make_session, fields, role, status, code):
    session = make_session(**{"start_in": timedelta(minutes=-5), "status": "live", **fields})
    client, _ = api_client(role)
    response = client.post(f"/api/training/sessions/{session.id}/join")
    assert response.status_code == status
    data = response.get_json()
    assert data["error"]["code"] == code and "token" not in data
    assert seats_of(session) == []


@pytest.mark.parametrize(
    ("fields", "role", "status", "code"),
    [
        ({"status": "canceled"}, "member", 409, "canceled"),
        ({"status": "ended"}, "member", 409, "ended"),
        ({"is_public": True, "members_only": True}, "public", 403, "members_only"),
        ({"is_public": False}, "public", 404, "not_found"),
        ({"is_public": True, "members_only": False}, "anonymous", 401, "login_required"),
    ],
)
def test_reserving_and_joining_refuse_the_same_state_with_the_same_status_and_code(
    client, api_client, make_session, fields, role, status, code
):
    session = make_session(**{"start_in": timedelta(minutes=-5), "status": "live", **fields})
    caller = client if role == "anonymous" else api_client(role)[0]
    joined = caller.post(f"/api/training/sessions/{session.id}/join")
    reserved = caller.post(f"/api/training/sessions/{session.id}/seat")
    for response in (joined, reserved):
        assert (response.status_code, response.get_json()["error"]["code"]) == (status, code)
    assert seats_of(session) == []


def test_the_api_says_when_a_too_early_join_opens(api_client, make_session, clock):
    session = make_session(start_in=timedelta(minutes=25))
    client, _ = api_client("member")
    error = client.post(f"/api/training/sessions/{session.id}/join").get_json()["error"]
    assert error["code"] == "too_early"
    assert error["opens_at"] == (session.start_time - timedelta(minutes=10)).isoformat()
    assert error["seconds_until_open"] == 15 * 60


def test_the_api_join_without_credentials_is_401(client, make_session):
    session = make_session(start_in=timedelta(minutes=-5), status="live", is_public=True, members_only=False)
    response = client.post(f"/api/training/sessions/{session.id}/join")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "login_required"


def test_the_api_join_of_a_waiting_session_issues_a_token_without_attendance(api_client, soon):
    client, _ = api_client("member")
    data = client.post(f"/api/training/sessions/{soon.id}/join").get_json()
    assert data["status"] == "scheduled" and data["token"]
    assert attendance_of(soon) == []


@pytest.mark.parametrize("failing", ["create_room", "add_participant"])
def test_a_provider_outage_answers_503_issues_no_token_and_never_takes_a_second_seat(
    api_client, client, login_as, live, monkeypatch, failing
):
    def down(*args, **kwargs):
        raise ProviderError("connection refused", retryable=True)

    monkeypatch.setattr(get_provider(), failing, down)
    api, member = api_client("member")
    response = api.post(f"/api/training/sessions/{live.id}/join")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] in ("room_unavailable", "room_unreachable")
    assert "token" not in response.get_json()
    assert "try again" in response.get_json()["error"]["message"].lower()
    browser_member = login_as("member")
    page = post(client, f"/sessions/{live.id}/join")
    assert page.status_code == 503
    assert "Development room" not in page.get_data(as_text=True)
    assert "try again" in page.get_data(as_text=True).lower()
    assert attendance_of(live) == []
    monkeypatch.undo()
    for _ in range(2):
        assert api.post(f"/api/training/sessions/{live.id}/join").status_code == 200
    # The seat taken before the outage is kept, and trying again takes no second one.
    assert sorted(seats_of(live)) == sorted([(member.id, "confirmed"), (browser_member.id, "confirmed")])
    assert counter(live) == 2


def test_can_join_reports_the_same_eligibility_as_the_panel(client, api_client, make_session, clock):
    session = make_session(start_in=timedelta(minutes=30), capacity=4, seats_taken=1)
    api, _ = api_client("member")
    data = api.get(f"/api/training/sessions/{session.id}/can-join").get_json()
    assert (data["can_join"], data["reason"], data["seconds_until_open"]) == (False, "too_early", 20 * 60)
    assert (data["seats_taken"], data["capacity"], data["poll_seconds"]) == (1, 4, 60)
    public = make_session(start_in=timedelta(minutes=30), is_public=True, members_only=False)
    anonymous = client.get(f"/api/training/sessions/{public.id}/can-join").get_json()
    assert (anonymous["can_join"], anonymous["reason"]) == (False, "login_required")
    assert client.get(f"/api/training/sessions/{session.id}/can-join").status_code == 404


def test_api_seats_reserve_waitlist_and_cancel(api_client, make_session):
    session = make_session(capacity=1)
    first, _ = api_client("member")
    second, _ = api_client("member")
    assert first.post(f"/api/training/sessions/{session.id}/seat").status_code == 201
    queued = second.post(f"/api/training/sessions/{session.id}/seat", json={"waitlist": True})
    assert queued.status_code == 202 and queued.get_json()["waitlist_position"] == 1
    refused = second.post(f"/api/training/sessions/{session.id}/seat", json={"waitlist": "yes"})
    assert refused.status_code == 422
    assert first.delete(f"/api/training/sessions/{session.id}/seat").get_json()["status"] == "canceled"
    assert (
        db.session.scalar(
            select(func.count()).select_from(Seat).where(Seat.session_id == session.id, Seat.status == "confirmed")
        )
        == 1
    )


# ------------------------------------------------------------------------------------------------ ids out of range
HUGE = 99999999999999999999  # beyond the database's integers: must be "not found", never a 500


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", f"/sessions/{HUGE}/panel"),
        ("get", f"/sessions/{HUGE}/join"),
        ("post", f"/sessions/{HUGE}/join"),
        ("get", f"/sessions/{HUGE}/join/status"),
        ("post", f"/sessions/{HUGE}/seat"),
        ("get", f"/sessions/{HUGE}/attendance"),
        ("get", f"/sessions/{HUGE}/room/presence"),
        ("get", f"/api/training/sessions/{HUGE}/can-join"),
        ("post", f"/api/training/sessions/{HUGE}/join"),
    ],
)
def test_a_session_id_beyond_the_database_range_is_not_found(htmx, login_as, method, path):
    login_as("admin", client=htmx)
    response = getattr(htmx, method)(path)
    assert response.status_code == 404


def test_the_leave_beacon_for_a_session_id_beyond_the_database_range_changes_nothing(client, login_as):
    login_as("member")
    assert client.post(f"/sessions/{HUGE}/leave").status_code == 204  # the beacon always answers 204
