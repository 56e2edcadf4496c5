"""The whole portal against the fake RealtimeKit server: schedule, provision, join, record, webhooks, end, cleanup."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from portal.extensions import db
from portal.seats.models import Attendance, Seat
from portal.training import jobs as training_jobs
from portal.training import rooms
from portal.training.models import TrainingSession
from tests.conftest import sign_in


@pytest.fixture
def portal(cloudflare_app, make_user):
    """Signed-in clients on the cloudflare app: the instructor and two members."""

    def client_for(user):
        c = cloudflare_app.test_client()
        sign_in(c, user)
        # the CSRF token every page carries on <body hx-headers>, sent the way htmx sends it
        token = re.search(r'"X-CSRFToken": "([^"]+)"', c.get("/").get_data(as_text=True)).group(1)
        c.environ_base["HTTP_X_CSRFTOKEN"] = token
        return c

    people = {
        "instructor": make_user("instructor", name="Sensei Kano"),
        "aiko": make_user("member", name="Aiko"),
        "ben": make_user("member", name="Ben"),
    }
    return {name: (user, client_for(user)) for name, user in people.items()}


def _reload(session_id: int) -> TrainingSession:
    db.session.expire_all()
    return db.session.get(TrainingSession, session_id)


def _token_in(html: str) -> str | None:
    found = re.search(r'data-auth-token="([^"]+)"', html)
    return found.group(1) if found else None


def _schedule(portal, clock) -> int:
    _, instructor = portal["instructor"]
    start = clock.now() + timedelta(minutes=30)
    response = instructor.post(
        "/api/training/sessions",
        json={
            "title": "Randori night",
            "start_time": start.isoformat(),
            "duration_minutes": 60,
            "capacity": 10,
            "recording_enabled": True,
        },
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_a_session_runs_end_to_end_through_realtimekit(portal, fake_rtk, clock):
    (_, instructor), (aiko, aiko_client), (_, ben_client) = portal["instructor"], portal["aiko"], portal["ben"]
    session_id = _schedule(portal, clock)

    # provision: one meeting, its id stored
    assert rooms.provision_room(session_id) != "skipped"
    session = _reload(session_id)
    assert session.room_status == "ready" and list(fake_rtk.meetings) == [session.room_id]
    room_id = session.room_id

    # the instructor starts at the start time: the recording starts
    clock.shift(timedelta(minutes=30))
    assert instructor.post(f"/sessions/{session_id}/start").status_code in (302, 303)
    session = _reload(session_id)
    assert session.status == "live" and session.recording_status == "recording"
    assert fake_rtk.recordings[session.recording_id]["meeting_id"] == room_id

    # Aiko joins: her own token, on her own page, never cached, with the RealtimeKit CSP
    page = aiko_client.post(f"/sessions/{session_id}/join")
    assert page.status_code == 200, page.get_data(as_text=True)[-1500:]
    html = page.get_data(as_text=True)
    token = _token_in(html)
    assert token in fake_rtk.tokens_issued
    assert page.headers["Cache-Control"].startswith("no-store")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "jsdelivr" not in csp
    aiko_participant = next(iter(fake_rtk.participants[room_id].values()))
    assert aiko_participant["custom_participant_id"] == str(aiko.id)
    assert aiko_participant["preset_name"] == "group_call_participant"
    # the instructor's room has the host preset and a different token; Aiko's token is on no other page
    host_html = instructor.post(f"/sessions/{session_id}/join").get_data(as_text=True)
    assert _token_in(host_html) not in (None, token) and token not in host_html
    assert token not in ben_client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert {p["preset_name"] for p in fake_rtk.participants[room_id].values()} == {
        "group_call_participant",
        "group_call_host",
    }

    # webhooks: Aiko's presence comes from the provider
    assert (
        fake_rtk.send_webhook(
            aiko_client,
            fake_rtk.participant_event(
                "meeting.participantLeft", room_id, aiko.id, at=clock.now() + timedelta(minutes=20)
            ),
        ).status_code
        == 200
    )
    row = db.session.query(Attendance).filter_by(session_id=session_id, user_id=aiko.id).one()
    assert not row.is_present and row.watch_seconds == 20 * 60
    fake_rtk.send_webhook(
        aiko_client,
        fake_rtk.participant_event(
            "meeting.participantJoined", room_id, aiko.id, at=clock.now() + timedelta(minutes=25)
        ),
    )
    db.session.expire_all()
    assert db.session.query(Attendance).filter_by(session_id=session_id, user_id=aiko.id).one().is_present

    # the instructor ends: the recording stops, the meeting ends for everyone and is deactivated
    clock.shift(timedelta(minutes=60))
    fake_rtk.start_live(room_id)
    assert instructor.post(f"/sessions/{session_id}/end").status_code in (302, 303)
    session = _reload(session_id)
    assert session.status == "ended" and session.recording_status == "uploading"
    assert fake_rtk.recordings[session.recording_id]["status"] == "UPLOADING"
    assert fake_rtk.meetings[room_id]["status"] == "INACTIVE" and room_id not in fake_rtk.live
    assert fake_rtk.calls("POST", "kick-all")

    # the provider uploads; its webhook makes it ready: members get the portal's watch route, which fetches the
    # provider's link at click time (never in the page)
    assert "Processing" in aiko_client.get(f"/sessions/{session_id}").get_data(as_text=True)
    fake_rtk.complete_upload(session.recording_id)
    fake_rtk.send_webhook(aiko_client, fake_rtk.recording_event(session.recording_id))
    watch = f"/recordings/{session_id}/watch"
    assert watch in aiko_client.get(f"/sessions/{session_id}").get_data(as_text=True)
    link = aiko_client.get(watch).headers["Location"]
    assert link in fake_rtk.links_issued
    assert link not in aiko_client.get(f"/sessions/{session_id}").get_data(as_text=True)
    # a late meeting.ended from the provider changes nothing
    late = fake_rtk.send_webhook(aiko_client, fake_rtk.meeting_event("meeting.ended", room_id))
    assert late.status_code == 200 and _reload(session_id).end_reason == "instructor"

    # cleanup, eight days later: nothing left to close, the session is archived; the link has expired
    clock.shift(timedelta(days=8))
    assert training_jobs.cleanup()["archived"] == 1
    assert _reload(session_id).archived_at is not None
    assert watch not in aiko_client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert len(fake_rtk.meetings) == 1 and len(fake_rtk.recordings) == 1


def test_a_provider_outage_during_join_says_try_again_and_takes_no_seat_twice(portal, fake_rtk, clock):
    (_, instructor), (aiko, aiko_client) = portal["instructor"], portal["aiko"]
    session_id = _schedule(portal, clock)
    rooms.provision_room(session_id)
    clock.shift(timedelta(minutes=30))
    instructor.post(f"/sessions/{session_id}/start")

    fake_rtk.fail_next(50, status=503, path_contains="/participants")
    failed = aiko_client.post(f"/sessions/{session_id}/join", headers={"Accept": "text/html"})
    assert failed.status_code == 503
    assert "not reachable" in failed.get_data(as_text=True) and "try again" in failed.get_data(as_text=True)
    # the seat may be kept for the retry (or given back), but never more than one
    assert _reload(session_id).seats_taken <= 1
    assert db.session.query(Seat).filter_by(session_id=session_id).count() <= 1
    assert fake_rtk.participants[_reload(session_id).room_id] == {}

    fake_rtk.faults.clear()
    page = aiko_client.post(f"/sessions/{session_id}/join")
    assert page.status_code == 200 and _token_in(page.get_data(as_text=True))
    again = aiko_client.post(f"/sessions/{session_id}/join")
    assert again.status_code == 200
    session = _reload(session_id)
    assert session.seats_taken == 1
    assert db.session.query(Seat).filter_by(session_id=session_id, user_id=aiko.id).count() == 1
    assert len(fake_rtk.participants[session.room_id]) == 1  # refreshed, not added twice


def test_a_provider_outage_at_provisioning_never_fails_scheduling_and_the_retry_makes_one_room(portal, fake_rtk, clock):
    fake_rtk.fail_next(100, status=500, path_contains="/meetings")
    session_id = _schedule(portal, clock)
    assert rooms.provision_room(session_id).startswith("failed")
    session = _reload(session_id)
    assert session.status == "scheduled" and session.room_status == "failed" and session.room_error
    fake_rtk.faults.clear()
    clock.shift(timedelta(minutes=10))
    rooms.provision_room(session_id)
    assert _reload(session_id).room_status == "ready" and len(fake_rtk.meetings) == 1


def test_a_room_left_open_by_an_outage_at_cancel_is_closed_by_the_cleanup(portal, fake_rtk, clock):
    _, instructor = portal["instructor"]
    session_id = _schedule(portal, clock)
    rooms.provision_room(session_id)
    room_id = _reload(session_id).room_id
    fake_rtk.fail_next(50, status=503, method="PATCH")
    assert instructor.post(f"/sessions/{session_id}/cancel").status_code in (302, 303)
    session = _reload(session_id)
    assert session.status == "canceled" and session.room_status == "ready"  # canceled anyway; room still open
    assert fake_rtk.meetings[room_id]["status"] == "ACTIVE"
    fake_rtk.faults.clear()
    assert training_jobs.cleanup()["rooms_closed"] == 1
    assert fake_rtk.meetings[room_id]["status"] == "INACTIVE" and _reload(session_id).room_status == "inactive"
