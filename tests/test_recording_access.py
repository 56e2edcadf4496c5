"""Watching a recording needs what joining needs (SPEC "Joining" checks 1-4, "After the session"): a members-only
session's recording, listed publicly, is never shown to anonymous visitors or `public` users, on a page or in any
JSON, and the provider's link never reaches them. Members and the instructor watch it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_login import AnonymousUserMixin

from portal.core.clock import now_utc
from portal.extensions import db
from portal.training import rules
from portal.training.serializers import session_json

PROVIDER_LINK = "https://recordings.provider.example/r/abc123?signature=secret"
WATCHERS = {"anonymous": False, "public": False, "member": True, "instructor": True}


@pytest.fixture
def recorded(make_session, make_user):
    """A public, members-only session that ended an hour ago; its recording is ready and the link valid."""

    def factory(*, members_only: bool = True, instructor=None):
        return make_session(
            instructor=instructor or make_user("instructor"),
            start_in=timedelta(hours=-2),
            is_public=True,
            members_only=members_only,
            recording_enabled=True,
            status="ended",
            ended_at=now_utc() - timedelta(hours=1),
            recording_id="rec-1",
            recording_status="ready",
            recording_url=PROVIDER_LINK,
            recording_url_expires_at=now_utc() + timedelta(days=1),
        )

    return factory


@pytest.fixture
def caller(app, api_client, make_user):
    """caller(role, session) -> an API client for that role ("anonymous": no credentials); "instructor" is the
    session's own instructor."""

    def factory(role: str, session):
        if role == "anonymous":
            return app.test_client()
        if role == "instructor":
            return api_client(session.instructor)[0]
        return api_client(role)[0]

    return factory


@pytest.fixture
def browser(app, login_as):
    """browser(role, session) -> a signed-in browser for that role (none for "anonymous")."""

    def factory(role: str, session):
        client = app.test_client()
        if role != "anonymous":
            login_as(session.instructor if role == "instructor" else role, client=client)
        return client

    return factory


@pytest.mark.parametrize(("role", "may_watch"), WATCHERS.items())
def test_a_members_only_recording_url_is_in_the_session_json_only_for_members(recorded, caller, role, may_watch):
    session = recorded()
    response = caller(role, session).get(f"/api/training/sessions/{session.id}")
    assert response.status_code == 200  # the session itself is public: everyone sees it
    assert response.json["recording_status"] == "ready"  # one shape for everyone
    assert response.json["recording_url"] == (PROVIDER_LINK if may_watch else None)
    assert (PROVIDER_LINK in response.get_data(as_text=True)) is may_watch


@pytest.mark.parametrize(("role", "may_watch"), WATCHERS.items())
def test_a_members_only_recording_is_in_the_session_list_only_for_members(recorded, caller, role, may_watch):
    session = recorded()
    response = caller(role, session).get("/api/training/sessions?status=ended")
    assert [item["id"] for item in response.json["items"]] == [session.id]
    assert response.json["items"][0]["recording_url"] == (PROVIDER_LINK if may_watch else None)
    assert (PROVIDER_LINK in response.get_data(as_text=True)) is may_watch


@pytest.mark.parametrize(("role", "may_watch"), WATCHERS.items())
def test_a_members_only_recording_is_in_the_event_json_only_for_members(recorded, caller, make_event, role, may_watch):
    session = recorded()
    session.event_id = make_event(visibility="public").id
    db.session.commit()
    event = caller(role, session).get(f"/api/events/{session.event_id}")
    assert [s["id"] for s in event.json["training_sessions"]] == [session.id]
    assert (PROVIDER_LINK in event.get_data(as_text=True)) is may_watch
    public_event = caller(role, session).get(f"/api/events/public/{session.event_id}")  # the same, whoever asks
    assert [s["recording_url"] for s in public_event.json["training_sessions"]] == [None]


@pytest.mark.parametrize(("role", "may_watch"), WATCHERS.items())
def test_a_members_only_recording_is_on_the_session_page_only_for_members(recorded, browser, role, may_watch):
    session = recorded()
    response = browser(role, session).get(f"/sessions/{session.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert ("Watch the recording" in page) is may_watch
    assert (PROVIDER_LINK.replace("&", "&amp;") in page or PROVIDER_LINK in page) is may_watch
    if may_watch:  # a page with a link for this viewer alone is kept by no cache
        assert "no-store" in response.headers["Cache-Control"] and "private" in response.headers["Cache-Control"]
    else:
        assert "The recording is for members" in page


def test_anyone_signed_in_watches_the_recording_of_a_session_open_to_all(recorded, browser, caller):
    session = recorded(members_only=False)
    assert caller("public", session).get(f"/api/training/sessions/{session.id}").json["recording_url"] == PROVIDER_LINK
    assert "Watch the recording" in browser("public", session).get(f"/sessions/{session.id}").get_data(as_text=True)
    anonymous = browser("anonymous", session).get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "Sign in to watch the recording" in anonymous and PROVIDER_LINK not in anonymous
    assert caller("anonymous", session).get(f"/api/training/sessions/{session.id}").json["recording_url"] is None


def test_the_watching_rule_is_joinings_checks_one_to_four(recorded, make_user, make_session):
    members_only, open_to_all = recorded(), recorded(members_only=False)
    hidden = make_session(is_public=False, members_only=False)
    anonymous = AnonymousUserMixin()
    public, member, admin = make_user("public"), make_user("member"), make_user("admin")
    assert not rules.can_watch_recording(members_only, anonymous)  # 3: signed in
    assert not rules.can_watch_recording(open_to_all, anonymous)
    assert not rules.can_watch_recording(members_only, public)  # 4: members only
    assert rules.can_watch_recording(open_to_all, public)
    assert not rules.can_watch_recording(hidden, public)  # 1: may see the session
    assert all(
        rules.can_watch_recording(s, who) for s in (members_only, open_to_all, hidden) for who in (member, admin)
    )


def test_the_session_json_without_a_viewer_carries_no_recording_link(recorded):
    assert session_json(recorded(members_only=False))["recording_url"] is None
