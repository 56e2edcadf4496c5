"""Who watches a recording, and how the provider's link reaches them (SPEC "After the session"): watching needs what
joining needs (checks 1-4); a members-only session's recording is never shown to anonymous or `public` users, on any
page or in any JSON. The provider's link is fetched when someone clicks "Watch", for that viewer, and is in no page
and no JSON at all (the session page and JSON carry the portal's watch route, and only for those who may watch).
When a recording becomes ready, `training.recording_ready` is sent once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm.attributes import set_committed_value

from portal.core.clock import now_utc
from portal.extensions import db
from portal.training import rooms
from portal.training.models import TrainingSession
from portal.training.signals import recording_ready
from tests.conftest import sign_in

ROLES = ("anonymous", "public", "member", "instructor", "board_member", "admin")
KINDS = {"open to all": False, "members only": True}  # both listed publicly (is_public); members_only
LEGACY_LINK = "https://recordings.provider.example/r/legacy?signature=stored-secret"  # a link stored before


def may_watch(role: str, members_only: bool) -> bool:
    return role != "anonymous" and (role != "public" or not members_only)


@pytest.fixture
def recorded(make_session, make_user):
    def factory(*, members_only: bool, recording_id: str = "rec-local-1", **fields):
        ended = now_utc() - timedelta(hours=1)
        return make_session(
            instructor=make_user("instructor"),
            start_time=ended - timedelta(hours=1),
            title=f"Class {'members only' if members_only else 'open to all'}",
            is_public=True,
            members_only=members_only,
            recording_enabled=True,
            status="ended",
            started_at=ended - timedelta(hours=1),
            ended_at=ended,
            recording_id=recording_id,
            recording_status="ready",
            recording_url=LEGACY_LINK,
            recording_url_expires_at=now_utc() + timedelta(days=5),
            **fields,
        )

    return factory


def viewer_of(app, make_user, role: str, session):
    """(browser, API client) for `role`; "instructor" is the session's own."""
    browser, api = app.test_client(), app.test_client()
    if role != "anonymous":
        user = session.instructor if role == "instructor" else make_user(role)
        sign_in(browser, user)
        sign_in(api, user)
    return browser, api


def provider_links(text: str) -> list[str]:
    return [
        marker for marker in ("recordings.provider.example", "local-recording.html", "signature=") if marker in text
    ]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("kind", KINDS)
def test_the_recording_reaches_exactly_those_who_may_join_and_never_as_a_provider_link(
    app, make_user, make_event, recorded, role, kind
):
    members_only = KINDS[kind]
    session = recorded(members_only=members_only)
    browser, api = viewer_of(app, make_user, role, session)
    allowed = may_watch(role, members_only)
    watch_path = f"/recordings/{session.id}/watch"

    library = browser.get("/recordings")
    if role == "anonymous":
        assert library.status_code == 302 and "/login" in library.headers["Location"]
    else:
        assert library.status_code == 200
        assert (session.title in library.get_data(as_text=True)) is allowed
        assert (watch_path in library.get_data(as_text=True)) is allowed

    page = browser.get(f"/sessions/{session.id}")
    assert page.status_code == 200  # the session itself is public
    html = page.get_data(as_text=True)
    assert ("Watch the recording" in html) is allowed
    assert (watch_path in html) is allowed

    data = api.get(f"/api/training/sessions/{session.id}")
    assert data.status_code == 200 and data.json["recording_status"] == "ready"
    assert data.json["recording_url"] == (f"http://portal.test{watch_path}" if allowed else None)
    listing = api.get("/api/training/sessions?status=ended")
    assert [item["recording_url"] for item in listing.json["items"] if item["id"] == session.id] == [
        f"http://portal.test{watch_path}" if allowed else None
    ]

    session.event_id = make_event(visibility="public").id
    db.session.commit()
    events = [api.get(f"/api/events/{session.event_id}"), api.get(f"/api/events/public/{session.event_id}")]
    assert [[s["recording_url"] for s in e.json["training_sessions"]] for e in events] == [
        [f"http://portal.test{watch_path}" if allowed else None],
        [None],  # the public endpoint answers the same to everyone: nobody signed in
    ]

    watch = browser.get(watch_path)
    if allowed:
        assert watch.status_code == 303
        assert "no-store" in watch.headers["Cache-Control"]
        assert watch.headers["Location"].startswith("http://portal.test/static/video/local-recording.html")
    elif role == "anonymous":
        assert watch.status_code == 302 and "/login" in watch.headers["Location"]
    else:
        assert watch.status_code == 404

    for response in (library, page, data, listing, *events):  # no provider link in any page or JSON, for anyone
        assert provider_links(response.get_data(as_text=True)) == []
    if not allowed:
        assert provider_links(watch.get_data(as_text=True) + watch.headers.get("Location", "")) == []


def test_a_stored_provider_link_is_never_used(recorded, make_user, app):
    session = recorded(members_only=False)
    browser, _ = viewer_of(app, make_user, "member", session)
    location = browser.get(f"/recordings/{session.id}/watch").headers["Location"]
    assert LEGACY_LINK not in location  # the provider is asked at click time, not the row


# ------------------------------------------------------------------------------------------------ cloudflare
@pytest.fixture
def on_provider(cloudflare_app, fake_rtk, recorded):
    """A members-only session whose recording the fake RealtimeKit has uploaded."""
    recording_id = "2f1c6a52-7a39-4c1b-9a10-3c8f4d0e5b11"
    fake_rtk.recordings[recording_id] = {
        "id": recording_id,
        "meeting_id": "m-1",
        "status": "UPLOADED",
        "output_file_name": f"{recording_id}.mp4",
        "download_url": f"{fake_rtk.url}/files/{recording_id}.mp4",
        "download_url_expiry": (now_utc() + timedelta(days=7)).isoformat(),
    }
    return recorded(members_only=True, recording_id=recording_id)


def test_watch_fetches_the_link_from_the_provider_at_each_click(cloudflare_app, fake_rtk, on_provider, make_user):
    member = cloudflare_app.test_client()
    sign_in(member, make_user("member"))
    assert "Watch" in member.get("/recordings").get_data(as_text=True)
    member.get(f"/sessions/{on_provider.id}")
    member.get(f"/api/training/sessions/{on_provider.id}")
    assert fake_rtk.calls("GET", "/recordings/") == []  # listing and showing ask the provider nothing

    first = member.get(f"/recordings/{on_provider.id}/watch")
    second = member.get(f"/recordings/{on_provider.id}/watch")
    assert (first.status_code, second.status_code) == (303, 303)
    assert [first.headers["Location"], second.headers["Location"]] == fake_rtk.links_issued  # fresh each time
    assert first.headers["Location"] != second.headers["Location"]
    assert len(fake_rtk.calls("GET", f"/recordings/{on_provider.recording_id}")) == 2
    assert "no-store" in first.headers["Cache-Control"] and first.get_data() == b""
    db.session.expire_all()
    assert db.session.get(TrainingSession, on_provider.id).recording_url == LEGACY_LINK  # nothing fetched is stored

    public = cloudflare_app.test_client()
    sign_in(public, make_user("public"))
    assert public.get(f"/recordings/{on_provider.id}/watch").status_code == 404
    assert len(fake_rtk.calls("GET", f"/recordings/{on_provider.recording_id}")) == 2  # not asked for them


def test_a_provider_failure_is_a_clear_page_not_a_500(cloudflare_app, fake_rtk, on_provider, make_user):
    member = cloudflare_app.test_client()
    sign_in(member, make_user("member"))
    fake_rtk.fail_next(5, status=503, path_contains="/recordings/")
    down = member.get(f"/recordings/{on_provider.id}/watch")
    assert down.status_code == 503 and down.headers.get("Retry-After")
    assert "cannot be opened right now" in down.get_data(as_text=True)
    assert "Location" not in down.headers

    fake_rtk.faults.clear()
    del fake_rtk.recordings[on_provider.recording_id]
    gone = member.get(f"/recordings/{on_provider.id}/watch")
    assert gone.status_code == 404 and "no longer available" in gone.get_data(as_text=True)


def test_a_recording_the_provider_has_no_link_for_yet_is_not_redirected(
    cloudflare_app, fake_rtk, on_provider, make_user
):
    fake_rtk.recordings[on_provider.recording_id].update(status="UPLOADING", download_url=None)
    member = cloudflare_app.test_client()
    sign_in(member, make_user("member"))
    response = member.get(f"/recordings/{on_provider.id}/watch")
    assert response.status_code == 404 and "Location" not in response.headers


# ------------------------------------------------------------------------------------------------ ready, once
@pytest.fixture
def ready_sent():
    sent: list[int] = []

    def receiver(session, **_):
        sent.append(session.id)

    recording_ready.connect(receiver)
    yield sent
    recording_ready.disconnect(receiver)


def test_recording_ready_is_sent_once_per_recording(fake_rtk, cloudflare_app, make_session, ready_sent):
    client = cloudflare_app.test_client()
    session = make_session(start_in=timedelta(minutes=-5), status="live", started_at=now_utc(), recording_enabled=True)
    rooms.ensure_room(session)
    rooms.start_recording(session)
    db.session.commit()
    recording_id = session.recording_id
    fake_rtk.send_webhook(client, fake_rtk.recording_event(recording_id, "UPLOADING"))
    assert ready_sent == []
    fake_rtk.complete_upload(recording_id)
    first = fake_rtk.send_webhook(client, fake_rtk.recording_event(recording_id, "UPLOADED"))
    assert first.status_code == 200 and ready_sent == [session.id]
    again = fake_rtk.recording_event(recording_id, "UPLOADED")
    again["recording"]["recordingDuration"] = 61  # another delivery of the same status (not a duplicate body)
    second = fake_rtk.send_webhook(client, again)
    assert second.status_code == 200 and "stale" in second.json["outcome"]
    assert ready_sent == [session.id]
    db.session.expire_all()
    stored = db.session.get(TrainingSession, session.id)
    assert stored.recording_status == "ready" and stored.recording_url is None  # the link is not stored
    assert stored.recording_url_expires_at > now_utc() + timedelta(days=6)  # its expiry is


def test_a_stale_object_cannot_make_a_recording_ready_twice(make_session, ready_sent):
    session = make_session(
        start_in=timedelta(hours=-2), status="ended", recording_id="rec-x", recording_status="uploading"
    )
    stale = session.recording_status
    assert rooms.advance_recording(session, "ready") is True
    db.session.commit()
    set_committed_value(session, "recording_status", stale)  # another worker's copy, read before the first commit
    assert rooms.advance_recording(session, "ready") is False
    assert rooms.advance_recording(session, "ready") is False
    db.session.commit()
    assert ready_sent == [session.id]
    assert rooms.advance_recording(session, "failed") is False  # a final status never changes
