"""The recordings library (issue 12, SPEC "After the session"): /recordings lists the recordings the viewer may watch
(what joining needs, checks 1-4) for RECORDING_RETENTION_DAYS; "Watch" fetches the provider's link for that viewer
at click time and redirects to it. A members-only session's recording never reaches anonymous or `public` users."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.config import ConfigError, load_settings
from portal.core.clock import now_utc
from portal.core.errors import NotFound
from portal.extensions import db
from portal.training import recordings, rooms

ROLES = ("anonymous", "public", "member", "instructor", "board_member", "admin")
# (is_public, members_only) of the session -> who may watch its recording
KINDS = {
    "open to all": (True, False),
    "public, members only": (True, True),
    "members session": (False, False),
}


def link_of(session_id: int) -> str:
    return f"https://recordings.provider.example/r/{session_id}?signature=secret-{session_id}"


@pytest.fixture
def recorded(make_session, clock):
    """recorded(is_public, members_only, ended_ago) -> an ended session whose recording is ready."""

    def factory(*, is_public=True, members_only=True, ended_ago=timedelta(hours=1), title=None, **fields):
        ended = now_utc() - ended_ago
        session = make_session(
            start_time=ended - timedelta(hours=1),
            title=title,
            is_public=is_public,
            members_only=members_only,
            recording_enabled=True,
            status="ended",
            started_at=ended - timedelta(hours=1),
            ended_at=ended,
            recording_id="rec",
            recording_status="ready",
            recording_url="https://placeholder.example/",
            recording_url_expires_at=now_utc() + timedelta(days=60),
            **fields,
        )
        session.recording_url = link_of(session.id)
        db.session.commit()
        return session

    return factory


@pytest.fixture
def viewer(app, login_as):
    def factory(role: str):
        client = app.test_client()
        if role != "anonymous":
            login_as(role, client=client)
        return client

    return factory


def may_watch(role: str, kind: str) -> bool:
    is_public, members_only = KINDS[kind]
    if role == "anonymous":
        return False
    if role == "public":
        return is_public and not members_only
    return True


@pytest.mark.parametrize("role", ROLES)
def test_the_library_lists_what_each_role_may_watch_and_never_a_link(role, recorded, viewer):
    sessions = {kind: recorded(is_public=p, members_only=m, title=f"Class {kind}") for kind, (p, m) in KINDS.items()}
    client = viewer(role)
    response = client.get("/recordings")
    if role == "anonymous":
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    else:
        assert response.status_code == 200
        assert "no-store" in response.headers["Cache-Control"]
    page = response.get_data(as_text=True)
    for kind, session in sessions.items():
        assert (f"Class {kind}" in page) is may_watch(role, kind), kind
        assert (f"/recordings/{session.id}/watch" in page) is may_watch(role, kind), kind
        assert "signature=" not in page and "recordings.provider.example" not in page


@pytest.mark.parametrize("role", ROLES)
def test_the_watch_link_redirects_only_those_who_may_watch(role, recorded, viewer):
    sessions = {kind: recorded(is_public=p, members_only=m) for kind, (p, m) in KINDS.items()}
    client = viewer(role)
    for kind, session in sessions.items():
        response = client.get(f"/recordings/{session.id}/watch")
        if may_watch(role, kind):
            assert response.status_code == 303, kind
            # the local provider's own link, asked for now (never the link stored in the row)
            assert response.headers["Location"].startswith("http://portal.test/static/video/local-recording.html")
            assert "no-store" in response.headers["Cache-Control"]
        elif role == "anonymous":
            assert response.status_code == 302 and "/login" in response.headers["Location"]
        else:
            assert response.status_code == 404, kind
        assert "signature=" not in response.get_data(as_text=True)
        if response.status_code != 303:
            assert "recordings.provider.example" not in response.headers.get("Location", "")


@pytest.mark.parametrize("role", ["anonymous", "public"])
def test_a_members_only_recording_is_in_no_json_for_anonymous_or_public(role, recorded, app, api_client):
    session = recorded(is_public=True, members_only=True)
    client = app.test_client() if role == "anonymous" else api_client(role)[0]
    for url in (f"/api/training/sessions/{session.id}", "/api/training/sessions?status=ended"):
        response = client.get(url)
        assert response.status_code == 200
        assert link_of(session.id) not in response.get_data(as_text=True)
    assert recordings.watchable(client, now_utc(), 30) == []  # a test client is nobody signed in


def test_the_link_is_asked_for_that_viewer_at_click_time(recorded, viewer, monkeypatch):
    session = recorded(members_only=True)
    asked = []

    def provider_link(asked_session, asked_viewer):
        asked.append((asked_session.id, asked_viewer.id))
        return f"https://provider.example/fresh/{asked_viewer.id}"

    monkeypatch.setattr(rooms, "fetch_recording_link", provider_link)
    client = viewer("member")
    assert asked == []
    client.get("/recordings")
    assert asked == []  # listing asks the provider for nothing
    response = client.get(f"/recordings/{session.id}/watch")
    (asked_session, asked_viewer), *_ = asked
    assert (
        asked_session == session.id and response.headers["Location"] == f"https://provider.example/fresh/{asked_viewer}"
    )


def test_a_link_the_provider_no_longer_gives_is_a_404(recorded, viewer, monkeypatch):
    session = recorded(members_only=False)

    def gone(asked_session, asked_viewer):
        raise NotFound("The video provider no longer has this recording.", code="recording_gone")

    monkeypatch.setattr(rooms, "fetch_recording_link", gone)
    response = viewer("member").get(f"/recordings/{session.id}/watch")
    assert response.status_code == 404 and "no longer available" in response.get_data(as_text=True)


def test_recordings_are_listed_for_the_retention_days(recorded, viewer, clock):
    session = recorded(members_only=False, ended_ago=timedelta(days=29), title="Old class")
    client = viewer("member")
    assert "Old class" in client.get("/recordings").get_data(as_text=True)
    assert client.get(f"/recordings/{session.id}/watch").status_code == 303
    clock.shift(timedelta(days=1, minutes=1))  # 30 days and a minute after the end
    assert "Old class" not in client.get("/recordings").get_data(as_text=True)
    assert client.get(f"/recordings/{session.id}/watch").status_code == 404


def test_the_retention_is_a_setting(recorded, make_user, clock):
    recorded(members_only=False, ended_ago=timedelta(days=10))
    member = make_user("member")
    assert len(recordings.watchable(member, now_utc(), 30)) == 1
    assert recordings.watchable(member, now_utc(), 7) == []
    assert load_settings({"RECORDING_RETENTION_DAYS": "45"}, environ={}).RECORDING_RETENTION_DAYS == 45
    assert load_settings({}, environ={}).RECORDING_RETENTION_DAYS == 30
    with pytest.raises(ConfigError, match="RECORDING_RETENTION_DAYS"):
        load_settings({"RECORDING_RETENTION_DAYS": 0}, environ={})


def test_only_ready_recordings_of_ended_sessions_with_a_valid_link_are_listed(recorded, make_user, clock):
    member = make_user("member")
    ready = recorded(members_only=False)
    uploading, failed, canceled, expired = (recorded(members_only=False) for _ in range(4))
    uploading.recording_status = "uploading"
    failed.recording_status = "failed"
    canceled.status = "canceled"
    expired.recording_url_expires_at = now_utc() - timedelta(minutes=1)
    db.session.commit()
    assert [s.id for s in recordings.watchable(member, now_utc(), 30)] == [ready.id]
    for session in (uploading, failed, canceled, expired):
        assert not recordings.is_listed(session, member, now_utc(), 30)


def test_the_library_says_when_there_is_nothing(viewer):
    page = viewer("member").get("/recordings").get_data(as_text=True)
    assert "No recordings to watch right now" in page
