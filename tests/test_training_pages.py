"""The HTML side: scheduling and edit forms (local time, per-field errors, nothing lost), the session page with its
instructor actions, cancel with confirmation, start and end buttons, my sessions, and event pages and forms."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import template_rendered
from flask_login import AnonymousUserMixin
from sqlalchemy import func, select

from portal.events import rules as event_rules
from portal.extensions import db
from portal.training import rules as training_rules
from portal.training.models import TrainingSession
from tests.conftest import ALL_ROLES, csrf_token


def post_form(client, url, data, **kwargs):
    return client.post(url, data={**data, "csrf_token": csrf_token(client)}, **kwargs)


def form(**overrides):
    data = {
        "title": "Heian kata",
        "description": "All five",
        "start_date": "2026-12-10",
        "start_clock": "18:30",
        "timezone": "Europe/Berlin",
        "duration_minutes": "75",
        "capacity": "20",
        "tags": "Kata, beginners, kata",
        "chat_enabled": "on",
        "members_only": "on",
        "event_id": "",
    }
    data.update(overrides)
    return data


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(TrainingSession))


def text(response) -> str:
    return response.get_data(as_text=True)


# ------------------------------------------------------------------------------------------------ scheduling form
def test_the_form_defaults_to_the_instructors_time_zone(clock, client, login_as):
    login_as("instructor", timezone="America/New_York")
    page = text(client.get("/sessions/new"))
    assert re.search(r'<option value="America/New_York" selected>', page)
    assert 'name="start_date"' in page and 'name="start_clock"' in page


def test_scheduling_reads_local_time_in_the_chosen_zone(clock, client, login_as):
    instructor = login_as("instructor", timezone="Europe/Berlin")
    response = post_form(client, "/sessions/new", form())
    assert response.status_code == 302
    session = db.session.scalar(select(TrainingSession))
    assert response.headers["Location"].endswith(f"/sessions/{session.id}")
    assert session.start_time == datetime(2026, 12, 10, 17, 30, tzinfo=UTC)  # 18:30 CET
    assert (session.duration_minutes, session.capacity, session.tags) == (75, 20, ["kata", "beginners"])
    assert (session.chat_enabled, session.members_only, session.is_public, session.recording_enabled) == (
        True,
        True,
        False,
        False,
    )
    assert session.instructor_id == instructor.id
    page = text(client.get(response.headers["Location"]))
    assert "is scheduled" in page and "Thu 10 Dec 2026, 18:30 CET" in page


def test_invalid_fields_come_back_with_messages_and_the_typed_values(clock, client, login_as):
    login_as("instructor")
    response = post_form(
        client, "/sessions/new", form(title="", duration_minutes="abc", capacity="0", description="Keep this text")
    )
    assert response.status_code == 422
    page = text(response)
    assert "Give the session a title." in page
    assert "Give the duration in whole minutes." in page
    assert "The capacity must be between 1 and 1000" in page
    assert "Keep this text" in page and 'value="abc"' in page and 'value="2026-12-10"' in page
    assert count() == 0


def test_a_time_in_the_dst_gap_is_refused_with_a_clear_message(clock, client, login_as):
    login_as("instructor")
    response = post_form(client, "/sessions/new", form(start_date="2027-03-28", start_clock="02:30"))
    assert response.status_code == 422
    assert "02:30 does not exist on 28 Mar 2027 in Europe/Berlin" in text(response)
    assert count() == 0


def test_the_autumn_overlap_and_other_zones_are_read_correctly(clock, client, login_as):
    login_as("instructor")
    post_form(client, "/sessions/new", form(start_date="2027-07-01", start_clock="09:00", timezone="Asia/Tokyo"))
    assert db.session.scalar(select(TrainingSession.start_time)) == datetime(2027, 7, 1, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"start_date": "", "start_clock": ""}, "Enter the date and time the session starts."),
        ({"start_date": "2026-13-40"}, "Enter a date (YYYY-MM-DD) and a time (HH:MM)."),
        ({"timezone": "Mars/Olympus"}, "Choose a valid time zone."),
        ({"start_date": "2026-11-30"}, "The start must be in the future."),
        ({"event_id": "424242"}, "event not found"),
        ({"tags": ",".join(f"t{i}" for i in range(11))}, "Use at most 10 tags."),
    ],
)
def test_each_bad_value_gets_its_message(clock, client, login_as, fields, message):
    login_as("instructor")
    response = post_form(client, "/sessions/new", form(**fields))
    assert response.status_code == 422 and message in text(response)
    assert count() == 0


def test_board_members_pick_the_instructor_and_instructors_cannot(clock, client, login_as, make_user):
    teacher = make_user("instructor", name="Sensei Ito")
    login_as("board_member")
    assert "Sensei Ito" in text(client.get("/sessions/new"))
    post_form(client, "/sessions/new", form(instructor_id=str(teacher.id)))
    assert db.session.scalar(select(TrainingSession.instructor_id)) == teacher.id


def test_an_instructor_sees_no_instructor_picker(clock, client, login_as):
    login_as("instructor")
    assert 'name="instructor_id"' not in text(client.get("/sessions/new"))


# ------------------------------------------------------------------------------------------------ edit
def test_the_edit_form_is_prefilled_in_the_viewers_zone_and_saves(clock, client, login_as, make_session):
    instructor = login_as("instructor", timezone="Europe/Berlin")
    session = make_session(instructor=instructor, start_time=datetime(2026, 12, 10, 17, 30, tzinfo=UTC), capacity=8)
    page = text(client.get(f"/sessions/{session.id}/edit"))
    assert 'value="2026-12-10"' in page and 'value="18:30"' in page
    response = post_form(
        client,
        f"/sessions/{session.id}/edit",
        form(title="Renamed", start_date="2026-12-10", start_clock="18:30", capacity="8"),
    )
    assert response.status_code == 302
    db.session.expire_all()
    stored = db.session.get(TrainingSession, session.id)
    assert stored.title == "Renamed" and stored.start_time == datetime(2026, 12, 10, 17, 30, tzinfo=UTC)


def test_an_edit_with_errors_changes_nothing(clock, client, login_as, make_session):
    instructor = login_as("instructor")
    session = make_session(instructor=instructor, title="Original")
    response = post_form(client, f"/sessions/{session.id}/edit", form(title="New", duration_minutes="5"))
    assert response.status_code == 422 and "between 15 and 480" in text(response)
    db.session.expire_all()
    assert db.session.get(TrainingSession, session.id).title == "Original"


def test_another_instructor_cannot_open_or_post_the_edit_form(clock, client, login_as, make_session):
    login_as("instructor")
    session = make_session(title="Not yours")
    assert client.get(f"/sessions/{session.id}/edit").status_code == 403
    assert post_form(client, f"/sessions/{session.id}/edit", form()).status_code == 403
    db.session.expire_all()
    assert db.session.get(TrainingSession, session.id).title == "Not yours"


# ------------------------------------------------------------------------------------------------ lifecycle
def test_cancel_asks_for_confirmation_then_cancels(clock, client, login_as, make_session):
    instructor = login_as("instructor")
    session = make_session(instructor=instructor)
    page = text(client.get(f"/sessions/{session.id}"))
    assert f'href="/sessions/{session.id}/cancel"' in page
    confirm = text(client.get(f"/sessions/{session.id}/cancel"))
    assert "Yes, cancel the session" in confirm
    db.session.expire_all()
    assert db.session.get(TrainingSession, session.id).status == "scheduled"
    response = post_form(client, f"/sessions/{session.id}/cancel", {}, follow_redirects=True)
    assert "is canceled" in text(response)
    db.session.expire_all()
    assert db.session.get(TrainingSession, session.id).status == "canceled"


def test_start_and_end_buttons_are_real_forms_for_the_instructor(clock, client, login_as, make_session):
    instructor = login_as("instructor")
    session = make_session(instructor=instructor, start_in=timedelta(minutes=5))
    page = text(client.get(f"/sessions/{session.id}"))
    assert f'action="/sessions/{session.id}/start"' in page and "csrf_token" in page
    response = post_form(client, f"/sessions/{session.id}/start", {}, follow_redirects=True)
    assert "The session is live" in text(response)
    assert f'action="/sessions/{session.id}/end"' in text(response)
    response = post_form(client, f"/sessions/{session.id}/end", {}, follow_redirects=True)
    assert "has ended" in text(response)
    db.session.expire_all()
    assert db.session.get(TrainingSession, session.id).status == "ended"


def test_a_start_that_fails_says_why_and_shows_the_room_state(clock, client, login_as, make_session, app, monkeypatch):
    from tests.test_training_operations import FailingProvider

    instructor = login_as("instructor")
    session = make_session(instructor=instructor, start_in=timedelta(minutes=5))
    monkeypatch.setitem(app.extensions, "portal.video", FailingProvider())
    page = text(post_form(client, f"/sessions/{session.id}/start", {}, follow_redirects=True))
    assert "The session was not started" in page and "provider down" in page
    db.session.expire_all()
    assert db.session.get(TrainingSession, session.id).status == "scheduled"


def test_other_people_see_no_instructor_actions(clock, client, login_as, make_session):
    session = make_session()
    login_as("member")
    page = text(client.get(f"/sessions/{session.id}"))
    assert "/start" not in page and "/edit" not in page and "Video room" not in page
    assert post_form(client, f"/sessions/{session.id}/start", {}).status_code == 403


def test_a_board_member_may_edit_and_cancel_but_not_start(clock, client, login_as, make_session):
    session = make_session()
    login_as("board_member")
    page = text(client.get(f"/sessions/{session.id}"))
    assert f"/sessions/{session.id}/edit" in page and f"/sessions/{session.id}/cancel" in page
    assert f"/sessions/{session.id}/start" not in page


# ------------------------------------------------------------------------------------------------ reading pages
def test_session_page_shows_times_in_the_viewers_zone(clock, client, login_as, make_session):
    login_as("member", timezone="Asia/Tokyo")
    session = make_session(start_time=datetime(2026, 12, 10, 17, 30, tzinfo=UTC), is_public=True)
    assert "Fri 11 Dec 2026, 02:30 JST" in text(client.get(f"/sessions/{session.id}"))


def test_home_and_list_show_only_what_the_viewer_may_see(clock, client, login_as, make_session):
    make_session(title="Open class", is_public=True)
    make_session(title="Members class", is_public=False)
    for url in ("/", "/sessions"):
        page = text(client.get(url))
        assert "Open class" in page and "Members class" not in page
    login_as("member")
    assert "Members class" in text(client.get("/"))


def test_past_sessions_list(clock, client, login_as, make_session):
    login_as("member")
    make_session(title="Last week", start_in=timedelta(days=-7), status="ended")
    make_session(title="Tomorrow")
    page = text(client.get("/sessions?past=1"))
    assert "Last week" in page and "Tomorrow" not in page


def test_my_sessions_lists_the_instructors_sessions_with_room_state(clock, client, login_as, make_session):
    instructor = login_as("instructor")
    make_session(instructor=instructor, title="Mine", room_status="failed", room_error="provider said 503")
    make_session(title="Someone else's")
    page = text(client.get("/my/sessions"))
    assert "Mine" in page and "provider said 503" in page and "Someone else" not in page


def test_the_instructor_sees_the_room_state(clock, client, login_as, make_session):
    instructor = login_as("instructor")
    session = make_session(instructor=instructor, room_status="failed", room_error="quota exceeded")
    page = text(client.get(f"/sessions/{session.id}"))
    assert "Failed" in page and "quota exceeded" in page and "retried automatically" in page


# ------------------------------------------------------------------------------------------------ events
def test_board_member_creates_an_event_from_the_form(clock, client, login_as):
    login_as("board_member")
    data = {
        "title": "Winter seminar",
        "description": "",
        "location": "Hall 2",
        "visibility": "public",
        "start_date": "2026-12-20",
        "start_clock": "10:00",
        "end_date": "2026-12-20",
        "end_clock": "16:00",
        "timezone": "Europe/Berlin",
    }
    response = post_form(client, "/events/new", data, follow_redirects=True)
    assert response.status_code == 200 and "Winter seminar" in text(response) and "Hall 2" in text(response)


def test_event_form_errors_keep_the_values(clock, client, login_as):
    login_as("board_member")
    data = {
        "title": "Seminar",
        "location": "Dojo",
        "visibility": "public",
        "start_date": "2026-12-20",
        "start_clock": "10:00",
        "end_date": "2026-12-20",
        "end_clock": "09:00",
        "timezone": "UTC",
    }
    response = post_form(client, "/events/new", data)
    assert response.status_code == 422
    assert "The end must be after the start." in text(response) and 'value="Dojo"' in text(response)


def test_event_page_lists_its_sessions_with_join_panels(clock, client, login_as, make_event, make_session):
    event = make_event(title="Spring camp", visibility="public")
    session = make_session(event=event, title="Morning kata", is_public=True)
    page = text(client.get(f"/events/{event.id}"))
    assert "Morning kata" in page and f'id="join-panel-{session.id}"' in page


def test_members_events_are_hidden_from_anonymous_visitors(client, make_event):
    event = make_event(visibility="members", title="Grading")
    assert client.get(f"/events/{event.id}").status_code == 404
    assert "Grading" not in text(client.get("/events"))


# ------------------------------------------------------------------------------------------------ what a role may
@pytest.fixture
def rendered(app):
    """The context of every template rendered while the test runs: [(template name, context)]."""
    seen: list[tuple[str, dict]] = []

    def remember(sender, template, context, **extra):
        seen.append((template.name, context))

    template_rendered.connect(remember, app)
    yield seen
    template_rendered.disconnect(remember, app)


@pytest.mark.parametrize("role", ["anonymous", *ALL_ROLES])
def test_the_schedule_and_event_buttons_are_what_the_rules_say(clock, client, login_as, make_event, rendered, role):
    """The pages ask training.rules.can_create and events.rules.can_manage (as `may_sessions` / `may_events`),
    never a role string of their own."""
    viewer = AnonymousUserMixin() if role == "anonymous" else login_as(role)
    event = make_event(visibility="public")
    schedules, manages = training_rules.can_create(viewer), event_rules.can_manage(viewer)
    home = client.get("/").get_data(as_text=True)
    sessions = client.get("/sessions").get_data(as_text=True)
    events = client.get("/events").get_data(as_text=True)
    detail = client.get(f"/events/{event.id}").get_data(as_text=True)
    for page in (home, sessions):
        assert ('href="/sessions/new"' in page) is schedules
    assert ('href="/events/new"' in events) is manages
    assert (f'href="/sessions/new?event_id={event.id}"' in detail) is schedules
    assert (f'href="/events/{event.id}/edit"' in detail) is manages
    pages = [context for name, context in rendered if name in ("home.html", "events/detail.html")]
    assert pages and all(c["may_sessions"] == training_rules.may_sessions(viewer) for c in pages)
    assert all(c["may_events"] == event_rules.may_events(viewer) for c in pages)


@pytest.mark.parametrize("role", ["anonymous", *ALL_ROLES])
def test_what_a_viewer_may_names_the_role_each_check_needs(make_user, role):
    viewer = AnonymousUserMixin() if role == "anonymous" else make_user(role)
    rank = -1 if role == "anonymous" else ALL_ROLES.index(role)
    assert training_rules.may_sessions(viewer) == {"schedule": rank >= 2, "see_all": rank >= 1}
    assert event_rules.may_events(viewer) == {"manage": rank >= 3, "see_all": rank >= 1}
