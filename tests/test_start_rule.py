"""The start rule and the live-session join rule (SPEC "Starting, the window and a live session"): one rule each,
and the API, the session page, the join panel and its buttons all give its answer."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from portal.extensions import db
from portal.training.models import TrainingSession
from tests.test_panel import panel_url, post

WINDOW = timedelta(minutes=10)  # JOIN_WINDOW_MINUTES
GRACE = timedelta(minutes=30)  # AUTO_END_GRACE_MINUTES


@pytest.fixture
def instructor(make_user):
    return make_user("instructor")


@pytest.fixture
def tomorrow(make_session, instructor, clock):
    """A members' session a day ahead, 60 minutes long."""
    return make_session(instructor=instructor, start_in=timedelta(days=1), capacity=10)


def stored(session) -> TrainingSession:
    db.session.expire_all()
    return db.session.get(TrainingSession, session.id)


def panel_html(client, session) -> str:
    response = client.get(panel_url(session), headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def start_button(html: str, session) -> str | None:
    """The Start button of a page: 'disabled' (the panel's, before the window), 'enabled' (a form posting to the
    start view) or None."""
    match = re.search(rf'<button [^>]*id="join-panel-{session.id}-start"[^>]*>', html)
    if match is not None:
        assert "disabled" in match.group(0)
        assert f'action="/sessions/{session.id}/start"' not in html
        return "disabled"
    return "enabled" if html.count(f'action="/sessions/{session.id}/start"') == 1 else None


# ------------------------------------------------------------------------------------------------ the start rule
def test_starting_a_day_early_is_409_too_early_to_start_and_changes_nothing(api_client, instructor, tomorrow):
    client, _ = api_client(instructor)
    response = client.post(f"/api/training/sessions/{tomorrow.id}/start")
    assert response.status_code == 409
    error = response.json["error"]
    assert error["code"] == "too_early_to_start"
    assert "starting opens at" in error["message"] and "10 minutes before the start" in error["message"]
    after = stored(tomorrow)
    assert (after.status, after.started_at, after.room_id) == ("scheduled", None, tomorrow.room_id)


def test_the_start_form_a_day_early_shows_the_message_and_changes_nothing(client, login_as, instructor, tomorrow):
    login_as(instructor)
    response = post(client, f"/sessions/{tomorrow.id}/start", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Too early to start: starting opens at" in html
    assert "Members can join now" not in html
    assert stored(tomorrow).status == "scheduled"


def test_starting_at_the_window_opening_is_allowed(api_client, instructor, tomorrow, clock):
    clock.at(tomorrow.start_time - WINDOW)
    client, _ = api_client(instructor)
    response = client.post(f"/api/training/sessions/{tomorrow.id}/start")
    assert response.status_code == 200 and response.json["status"] == "live"


def test_one_second_before_the_window_is_still_too_early(api_client, instructor, tomorrow, clock):
    clock.at(tomorrow.start_time - WINDOW - timedelta(seconds=1))
    client, _ = api_client(instructor)
    response = client.post(f"/api/training/sessions/{tomorrow.id}/start")
    assert (response.status_code, response.json["error"]["code"]) == (409, "too_early_to_start")


def test_starting_at_the_auto_end_deadline_is_allowed_and_after_it_is_refused(
    api_client, make_session, instructor, clock
):
    late = make_session(instructor=instructor, start_in=timedelta(hours=2), capacity=10)
    on_time = make_session(instructor=instructor, start_in=timedelta(hours=2), capacity=10)
    client, _ = api_client(instructor)
    clock.at(late.end_time + GRACE + timedelta(seconds=1))
    refused = client.post(f"/api/training/sessions/{late.id}/start")
    assert (refused.status_code, refused.json["error"]["code"]) == (409, "too_late_to_start")
    assert stored(late).status == "scheduled"
    clock.at(on_time.end_time + GRACE)
    assert client.post(f"/api/training/sessions/{on_time.id}/start").status_code == 200


def test_the_start_form_after_the_deadline_says_it_is_too_late(client, login_as, instructor, tomorrow, clock):
    login_as(instructor)
    clock.at(tomorrow.end_time + GRACE + timedelta(minutes=1))
    html = post(client, f"/sessions/{tomorrow.id}/start", follow_redirects=True).get_data(as_text=True)
    assert "Too late to start" in html
    assert stored(tomorrow).status == "scheduled"


# ------------------------------------------------------------------------------------------------ the buttons
def test_the_panel_start_button_is_disabled_with_its_opening_before_the_window_then_enabled(
    client, login_as, instructor, tomorrow, clock
):
    login_as(instructor)
    before = panel_html(client, tomorrow)
    assert start_button(before, tomorrow) == "disabled" and "Start opens at" in before
    page = client.get(f"/sessions/{tomorrow.id}").get_data(as_text=True)
    assert start_button(page, tomorrow) == "disabled" and "Start opens at" in page
    waiting_room = client.get(f"/sessions/{tomorrow.id}/join").get_data(as_text=True)
    assert f'action="/sessions/{tomorrow.id}/start"' not in waiting_room

    clock.at(tomorrow.start_time - WINDOW)
    within = panel_html(client, tomorrow)
    assert start_button(within, tomorrow) is None and "Start opens at" not in within
    page = client.get(f"/sessions/{tomorrow.id}").get_data(as_text=True)
    assert start_button(page, tomorrow) == "enabled" and "Start opens at" not in page  # one Start button
    waiting_room = client.get(f"/sessions/{tomorrow.id}/join").get_data(as_text=True)
    assert f'action="/sessions/{tomorrow.id}/start"' in waiting_room


def test_the_panel_after_the_deadline_offers_no_start(client, login_as, instructor, tomorrow, clock):
    login_as(instructor)
    clock.at(tomorrow.end_time + GRACE + timedelta(minutes=1))
    html = panel_html(client, tomorrow)
    assert start_button(html, tomorrow) is None and "Too late to start" in html


@pytest.mark.parametrize("role", ["member", "instructor", "board_member", "admin"])
def test_only_the_sessions_instructor_sees_a_start_button(client, login_as, tomorrow, clock, role):
    login_as(role)
    clock.at(tomorrow.start_time - WINDOW)
    html = panel_html(client, tomorrow)
    assert start_button(html, tomorrow) is None and "Start opens at" not in html


# ------------------------------------------------------------------------------------------------ a live session
@pytest.fixture
def live_early(make_session, instructor, clock):
    """A live session whose start is still an hour away: the member's window check would refuse them."""
    return make_session(instructor=instructor, start_in=timedelta(hours=1), status="live", capacity=10)


def test_a_live_session_before_its_window_can_be_joined_through_can_join_and_the_api(api_client, live_early):
    client, _ = api_client("member")
    answer = client.get(f"/api/training/sessions/{live_early.id}/can-join").json
    assert (answer["can_join"], answer["reason"], answer["seconds_until_open"]) == (True, None, 0)
    joined = client.post(f"/api/training/sessions/{live_early.id}/join")
    assert joined.status_code == 200, joined.json


def test_a_live_session_before_its_window_shows_an_enabled_join_and_joining_works(client, login_as, live_early):
    login_as("member")
    html = panel_html(client, live_early)
    assert "Live now." in html
    assert re.search(rf'<button type="submit" class="join-button" id="join-panel-{live_early.id}-join">Join now', html)
    assert "disabled" not in re.search(r'<button [^>]*class="join-button"[^>]*>', html).group(0)
    assert "Joining opens" not in html
    response = post(client, f"/sessions/{live_early.id}/join")
    assert response.status_code == 200 and "Development room" in response.get_data(as_text=True)


def test_a_session_started_at_its_window_opening_is_joinable_by_members_at_once(
    api_client, instructor, tomorrow, clock
):
    clock.at(tomorrow.start_time - WINDOW)
    teacher, _ = api_client(instructor)
    assert teacher.post(f"/api/training/sessions/{tomorrow.id}/start").status_code == 200
    member, _ = api_client("member")
    assert member.get(f"/api/training/sessions/{tomorrow.id}/can-join").json["can_join"] is True
    assert member.post(f"/api/training/sessions/{tomorrow.id}/join").status_code == 200


def test_a_live_session_still_refuses_the_other_checks(api_client, make_session, clock):
    """Checks 1-4 and 6 still apply to a live session: a full one refuses a member without a seat."""
    full = make_session(start_in=timedelta(hours=1), status="live", capacity=1, seats_taken=1)
    client, _ = api_client("member")
    answer = client.get(f"/api/training/sessions/{full.id}/can-join").json
    assert (answer["can_join"], answer["reason"]) == (False, "full")
