"""POST /webhooks/cloudflare: verified over the raw body, read, deduplicated by the body, refused when too old, stored,
applied."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from portal.core.clock import now_utc
from portal.core.errors import ServiceUnavailable
from portal.extensions import db
from portal.seats.models import Attendance
from portal.training import rooms
from portal.training.models import TrainingSession
from portal.video.cloudflare import webhooks as cloudflare_webhooks
from portal.video.models import WebhookDelivery
from tests.plugins.realtimekit_api import iso
from tests.plugins.realtimekit_webhooks import new_key
from tests.plugins.video import cloudflare_settings


@pytest.fixture
def client(cloudflare_app):
    return cloudflare_app.test_client()


@pytest.fixture
def live_session(cloudflare_app, make_session, make_user):
    """A live session with a room on the fake, and a member with a seat."""
    instructor = make_user("instructor")
    session = make_session(
        instructor=instructor,
        start_in=timedelta(minutes=-5),
        status="live",
        started_at=now_utc(),
        recording_enabled=True,
    )
    rooms.ensure_room(session)
    db.session.commit()
    return session


def _deliveries() -> int:
    return db.session.scalar(select(func.count()).select_from(WebhookDelivery))


def _attendance(session, user):
    db.session.expire_all()
    return db.session.scalar(
        select(Attendance).where(Attendance.session_id == session.id, Attendance.user_id == user.id)
    )


def test_participant_joined_and_left_record_attendance(client, fake_rtk, live_session, make_user):
    member = make_user("member")
    joined_at = now_utc() - timedelta(minutes=3)
    response = fake_rtk.send_webhook(
        client, fake_rtk.participant_event("meeting.participantJoined", live_session.room_id, member.id, at=joined_at)
    )
    assert response.status_code == 200, response.json
    row = _attendance(live_session, member)
    assert row.is_present and row.first_joined_at == joined_at
    response = fake_rtk.send_webhook(
        client,
        fake_rtk.participant_event(
            "meeting.participantLeft", live_session.room_id, member.id, at=joined_at + timedelta(minutes=2)
        ),
    )
    assert response.status_code == 200
    row = _attendance(live_session, member)
    assert not row.is_present and row.watch_seconds == 120
    assert _deliveries() == 2


def test_a_replayed_delivery_is_acknowledged_and_changes_nothing(client, fake_rtk, live_session, make_user):
    member = make_user("member")
    body, headers = fake_rtk.webhook_request(
        fake_rtk.participant_event("meeting.participantJoined", live_session.room_id, member.id),
        delivery_id="delivery-1",
    )
    assert client.post("/webhooks/cloudflare", data=body, headers=headers).json["duplicate"] is False
    fake_rtk.send_webhook(
        client, fake_rtk.participant_event("meeting.participantLeft", live_session.room_id, member.id)
    )
    replay = client.post("/webhooks/cloudflare", data=body, headers=headers)
    assert replay.status_code == 200 and replay.json["duplicate"] is True
    assert not _attendance(live_session, member).is_present  # the replayed join did not bring them back
    assert _deliveries() == 2


def test_the_same_body_resent_under_a_new_uuid_is_a_duplicate(client, fake_rtk, live_session, make_user):
    member = make_user("member")
    payload = fake_rtk.participant_event("meeting.participantJoined", live_session.room_id, member.id)
    fake_rtk.send_webhook(client, payload, delivery_id="first")
    again = fake_rtk.send_webhook(client, payload, delivery_id="second")
    assert again.status_code == 200 and again.json["duplicate"] is True
    assert _deliveries() == 1


def test_an_unsigned_delivery_is_refused_with_400_and_changes_nothing(client, fake_rtk, live_session, make_user):
    member = make_user("member")
    response = fake_rtk.send_webhook(
        client, fake_rtk.participant_event("meeting.participantJoined", live_session.room_id, member.id), signature=""
    )
    assert response.status_code == 400 and response.json["error"]["code"] == "signature_missing"
    assert _attendance(live_session, member) is None and _deliveries() == 0


def test_a_forged_signature_is_refused_with_401_and_changes_nothing(client, fake_rtk, live_session, make_user):
    member = make_user("member")
    response = fake_rtk.send_webhook(
        client, fake_rtk.participant_event("meeting.participantJoined", live_session.room_id, member.id), key=new_key()
    )
    assert response.status_code == 401 and response.json["error"]["code"] == "signature_invalid"
    assert _attendance(live_session, member) is None and _deliveries() == 0


def test_garbage_in_the_signature_header_is_a_401(client, fake_rtk, live_session):
    response = fake_rtk.send_webhook(
        client, fake_rtk.meeting_event("meeting.started", live_session.room_id), signature="not base64!!"
    )
    assert response.status_code == 401 and _deliveries() == 0


def test_a_truncated_body_fails_the_signature_and_changes_nothing(client, fake_rtk, live_session):
    body, headers = fake_rtk.webhook_request(
        fake_rtk.meeting_event("meeting.ended", live_session.room_id, reason="HOST_ENDED_MEETING")
    )
    response = client.post("/webhooks/cloudflare", data=body[:-10], headers=headers)
    assert response.status_code == 401
    db.session.expire_all()
    assert db.session.get(TrainingSession, live_session.id).status == "live" and _deliveries() == 0


def test_a_re_serialized_body_fails_the_signature(client, fake_rtk, live_session):
    payload = fake_rtk.meeting_event("meeting.started", live_session.room_id)
    body, headers = fake_rtk.webhook_request(payload)
    reformatted = json.dumps(json.loads(body), indent=2).encode()
    assert client.post("/webhooks/cloudflare", data=reformatted, headers=headers).status_code == 401


def test_a_forged_delivery_cannot_block_the_genuine_one_with_the_same_uuid(client, fake_rtk, live_session, make_user):
    member = make_user("member")
    payload = fake_rtk.participant_event("meeting.participantJoined", live_session.room_id, member.id)
    assert fake_rtk.send_webhook(client, payload, delivery_id="same", key=new_key()).status_code == 401
    genuine = fake_rtk.send_webhook(client, payload, delivery_id="same")
    assert genuine.status_code == 200 and genuine.json["duplicate"] is False
    assert _attendance(live_session, member).is_present


def test_meeting_ended_ends_a_live_session_with_reason_provider(client, fake_rtk, live_session):
    response = fake_rtk.send_webhook(
        client, fake_rtk.meeting_event("meeting.ended", live_session.room_id, reason="ALL_PARTICIPANTS_LEFT")
    )
    assert response.status_code == 200, response.json
    db.session.expire_all()
    session = db.session.get(TrainingSession, live_session.id)
    assert session.status == "ended" and session.end_reason == "provider"
    assert fake_rtk.meetings[session.room_id]["status"] == "INACTIVE"


def test_meeting_ended_for_a_session_not_live_changes_nothing(client, fake_rtk, cloudflare_app, make_session):
    session = make_session(start_in=timedelta(minutes=5))
    rooms.ensure_room(session)
    db.session.commit()
    response = fake_rtk.send_webhook(client, fake_rtk.meeting_event("meeting.ended", session.room_id))
    assert response.status_code == 200 and "nothing to end" in response.json["outcome"]
    db.session.expire_all()
    assert db.session.get(TrainingSession, session.id).status == "scheduled"


def test_recording_status_updates_move_the_recording_to_ready_with_its_link(client, fake_rtk, live_session):
    rooms.start_recording(live_session)
    db.session.commit()
    recording_id = live_session.recording_id
    fake_rtk.complete_upload(recording_id)
    assert fake_rtk.send_webhook(client, fake_rtk.recording_event(recording_id, "UPLOADING")).status_code == 200
    db.session.expire_all()
    assert db.session.get(TrainingSession, live_session.id).recording_status == "uploading"
    fake_rtk.send_webhook(client, fake_rtk.recording_event(recording_id, "UPLOADED"))
    db.session.expire_all()
    session = db.session.get(TrainingSession, live_session.id)
    assert session.recording_status == "ready"
    assert session.recording_url is None  # the provider's link is not stored: "Watch" asks for it at click time
    assert rooms.fetch_recording_link(session, session.instructor) in fake_rtk.links_issued
    assert session.recording_url_expires_at > now_utc() + timedelta(days=6)
    # a late "UPLOADING" delivery does not move it back
    late = fake_rtk.send_webhook(client, fake_rtk.recording_event(recording_id, "UPLOADING"))
    assert "stale" in late.json["outcome"]
    db.session.expire_all()
    assert db.session.get(TrainingSession, live_session.id).recording_status == "ready"


def test_an_errored_recording_is_failed(client, fake_rtk, live_session):
    rooms.start_recording(live_session)
    db.session.commit()
    fake_rtk.send_webhook(client, fake_rtk.recording_event(live_session.recording_id, "ERRORED"))
    db.session.expire_all()
    session = db.session.get(TrainingSession, live_session.id)
    assert session.recording_status == "failed" and rooms.recording_link(session, session.instructor) is None


def test_unknown_events_are_stored_and_acknowledged(client, fake_rtk, live_session):
    response = fake_rtk.send_webhook(
        client,
        {
            "event": "meeting.chatSynced",
            "meetingId": live_session.room_id,
            "chatDownloadUrl": "https://example.org/chat",
        },
    )
    assert response.status_code == 200
    delivery = db.session.scalar(select(WebhookDelivery))
    assert delivery.event == "meeting.chatSynced" and delivery.processed_at is not None
    assert "not used" in delivery.outcome


def test_a_signed_body_that_is_not_json_is_a_400_and_stores_nothing(client, fake_rtk):
    response = fake_rtk.send_webhook(client, b"this is not json")
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_webhook"
    assert _deliveries() == 0


def test_a_participant_event_for_an_unknown_meeting_is_stored_and_ignored(client, fake_rtk, make_user):
    member = make_user("member")
    response = fake_rtk.send_webhook(
        client,
        {
            "event": "meeting.participantJoined",
            "meeting": {"id": "not-ours"},
            "participant": {"customParticipantId": str(member.id)},
        },
    )
    assert response.status_code == 200 and "unknown" in response.json["outcome"]
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 0


def test_a_rotated_key_is_fetched_again_once(client, fake_rtk, live_session, clock):
    assert (
        fake_rtk.send_webhook(client, fake_rtk.meeting_event("meeting.started", live_session.room_id)).status_code
        == 200
    )
    fake_rtk.rotate_key()
    clock.shift(timedelta(minutes=2))
    response = fake_rtk.send_webhook(client, fake_rtk.meeting_event("meeting.started", live_session.room_id))
    assert response.status_code == 200
    assert len(fake_rtk.calls("GET", "/.well-known/webhooks.json")) == 2


def test_bad_signatures_do_not_make_the_portal_hammer_the_key_url(client, fake_rtk, live_session):
    for _ in range(5):
        fake_rtk.send_webhook(client, fake_rtk.meeting_event("meeting.started", live_session.room_id), key=new_key())
    assert len(fake_rtk.calls("GET", "/.well-known/webhooks.json")) == 1


def test_the_webhook_needs_no_csrf_token_but_other_posts_still_do(make_app, fake_rtk, db):
    app = make_app(WTF_CSRF_ENABLED=True, **cloudflare_settings(fake_rtk))
    with app.app_context():
        test_client = app.test_client()
        response = fake_rtk.send_webhook(test_client, {"event": "meeting.started", "meeting": {"id": "x"}})
        assert response.status_code == 200
        assert test_client.post("/logout").status_code == 400
        db.session.remove()
        db.engine.dispose()


def test_an_unreachable_key_url_answers_503_so_the_provider_retries(make_app, fake_rtk, db):
    app = make_app(**cloudflare_settings(fake_rtk, CLOUDFLARE_WEBHOOK_KEY_URL="http://127.0.0.1:9/key.json"))
    with app.app_context():
        response = fake_rtk.send_webhook(app.test_client(), {"event": "meeting.started", "meeting": {"id": "x"}})
        assert response.status_code == 503 and response.json["error"]["code"] == "key_unavailable"
        assert _deliveries() == 0
        db.session.remove()
        db.engine.dispose()


def test_webhooks_are_delivered_over_http_to_a_running_portal(cloudflare_app, fake_rtk, live_session, make_user):
    member = make_user("member")
    server = make_server("127.0.0.1", 0, cloudflare_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        joined = fake_rtk.send_webhook(
            url, fake_rtk.participant_event("meeting.participantJoined", live_session.room_id, member.id)
        )
        forged = fake_rtk.send_webhook(
            url, fake_rtk.participant_event("meeting.participantLeft", live_session.room_id, member.id), key=new_key()
        )
    finally:
        server.shutdown()
        server.server_close()
    assert joined.status_code == 200 and joined.json()["outcome"].startswith(f"user {member.id} joined")
    assert forged.status_code == 401
    assert _attendance(live_session, member).is_present


# --------------------------------------------------------------------------------------------- replays and age
# RealtimeKit signs the body and nothing else: rtk-uuid and rtk-webhook-id can be replaced by anyone who captured
# a delivery, and no signed timestamp comes with it. A delivery is its body; its age is its event's own time.


def test_a_captured_delivery_replayed_with_new_unsigned_headers_is_a_duplicate(
    client, fake_rtk, live_session, make_user
):
    member = make_user("member")
    body, headers = fake_rtk.webhook_request(
        fake_rtk.participant_event("meeting.participantJoined", live_session.room_id, member.id),
        delivery_id="delivery-1",
        webhook_id="wh-portal",
    )
    assert client.post("/webhooks/cloudflare", data=body, headers=headers).json["duplicate"] is False
    fake_rtk.send_webhook(
        client, fake_rtk.participant_event("meeting.participantLeft", live_session.room_id, member.id)
    )
    replay = client.post(
        "/webhooks/cloudflare",
        data=body,
        headers={**headers, "rtk-uuid": "delivery-2", "rtk-webhook-id": "wh-someone-else"},
    )
    assert replay.status_code == 200 and replay.json["duplicate"] is True
    assert not _attendance(live_session, member).is_present  # the replayed join did not bring them back
    assert _deliveries() == 2


def test_a_delivery_is_kept_under_the_hash_of_its_body_not_its_unsigned_id(client, fake_rtk, live_session):
    body, headers = fake_rtk.webhook_request(
        fake_rtk.meeting_event("meeting.started", live_session.room_id), delivery_id="uuid-from-a-header"
    )
    assert client.post("/webhooks/cloudflare", data=body, headers=headers).status_code == 200
    stored = db.session.scalar(select(WebhookDelivery))
    assert stored.delivery_id == f"sha256:{hashlib.sha256(body).hexdigest()}"  # unique per provider: one row
    assert stored.webhook_id == "wh-portal"  # kept for the record


@pytest.mark.parametrize("age", [timedelta(minutes=5, seconds=1), timedelta(days=30)])
def test_a_delivery_whose_event_is_older_than_five_minutes_is_refused_and_changes_nothing(
    clock, client, fake_rtk, live_session, make_user, age
):
    member = make_user("member")
    body, headers = fake_rtk.webhook_request(
        fake_rtk.participant_event("meeting.participantJoined", live_session.room_id, member.id)
    )
    clock.shift(age)
    response = client.post("/webhooks/cloudflare", data=body, headers=headers)
    # 400, not 5xx: RealtimeKit retries only 5xx and network errors, and a delivery this old never gets younger
    assert response.status_code == 400 and response.is_json
    assert response.json["error"]["code"] == "webhook_too_old"
    assert _attendance(live_session, member) is None and _deliveries() == 0


def test_a_month_old_meeting_ended_cannot_end_a_live_session(client, fake_rtk, live_session):
    old = fake_rtk.meeting_event("meeting.ended", live_session.room_id, at=now_utc() - timedelta(days=30))
    response = fake_rtk.send_webhook(client, old, delivery_id="fresh-uuid")
    assert response.status_code == 400 and response.json["error"]["code"] == "webhook_too_old"
    db.session.expire_all()
    assert db.session.get(TrainingSession, live_session.id).status == "live" and _deliveries() == 0


def test_a_delivery_under_five_minutes_old_is_applied(clock, client, fake_rtk, live_session, make_user):
    member = make_user("member")
    body, headers = fake_rtk.webhook_request(
        fake_rtk.participant_event("meeting.participantJoined", live_session.room_id, member.id)
    )
    clock.shift(timedelta(minutes=4, seconds=59))
    response = client.post("/webhooks/cloudflare", data=body, headers=headers)
    assert response.status_code == 200 and response.json["duplicate"] is False
    assert _attendance(live_session, member).is_present


def test_a_stored_delivery_replayed_a_month_later_is_still_answered_as_a_duplicate(
    clock, client, fake_rtk, live_session, make_user
):
    member = make_user("member")
    body, headers = fake_rtk.webhook_request(
        fake_rtk.participant_event("meeting.participantJoined", live_session.room_id, member.id)
    )
    assert client.post("/webhooks/cloudflare", data=body, headers=headers).status_code == 200
    fake_rtk.send_webhook(
        client, fake_rtk.participant_event("meeting.participantLeft", live_session.room_id, member.id)
    )
    clock.shift(timedelta(days=30))
    replay = client.post(
        "/webhooks/cloudflare", data=body, headers={**headers, "rtk-uuid": "new", "rtk-webhook-id": "other"}
    )
    assert replay.status_code == 200 and replay.json["duplicate"] is True
    assert not _attendance(live_session, member).is_present and _deliveries() == 2


def test_a_recording_update_is_aged_by_the_moment_its_status_was_reached(clock, client, fake_rtk, live_session):
    """Uploading dates from the recording's stop; a finished upload names no time of its own (uploads take
    as long as they take), so it is judged by its body's hash alone and a long upload still brings the link."""
    rooms.start_recording(live_session)
    db.session.commit()
    recording_id = live_session.recording_id
    fake_rtk.recordings[recording_id]["stopped_time"] = iso(now_utc())
    uploading = fake_rtk.webhook_request(fake_rtk.recording_event(recording_id, "UPLOADING"))
    clock.shift(timedelta(minutes=20))
    refused = client.post("/webhooks/cloudflare", data=uploading[0], headers=uploading[1])
    assert refused.status_code == 400 and refused.json["error"]["code"] == "webhook_too_old"
    fake_rtk.complete_upload(recording_id)
    assert fake_rtk.send_webhook(client, fake_rtk.recording_event(recording_id, "UPLOADED")).status_code == 200
    db.session.expire_all()
    assert db.session.get(TrainingSession, live_session.id).recording_status == "ready"


# --------------------------------------------------------------------------------------------- bad input
# Signed bodies a provider would never send, but which must still get a JSON 400 and store nothing: never the
# HTML error page, never a 500.
def _event_with(**fields):
    return {"event": "meeting.participantJoined", "meeting": {"id": "room-x"}, **fields}


_UNREADABLE_BODIES = {
    "a lone surrogate in the event": json.dumps({"event": "meeting.started\ud800", "meeting": {"id": "x"}}).encode(),
    "a lone surrogate in a name": json.dumps(_event_with(participant={"userDisplayName": "\ud800"})).encode(),
    "a NUL in the meeting id": json.dumps({"event": "meeting.started", "meeting": {"id": "room\x00"}}).encode(),
    "a NUL in a key": json.dumps(_event_with(participant={"a\x00": 1})).encode(),
    "JSON nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "an event with JSON nested 100,000 deep": b'{"event": "meeting.started", "x": '
    + b"[" * 100_000
    + b"]" * 100_000
    + b"}",
    "an event nested 40 deep": b'{"event": "meeting.started", "x": ' + b"[" * 40 + b"]" * 40 + b"}",
    "a number beyond a float": b'{"event": "meeting.started", "n": 1e999}',
    "an integer beyond 64 bits": b'{"event": "meeting.started", "n": 99999999999999999999}',
    "an integer of 5000 digits": b'{"event": "meeting.started", "n": ' + b"9" * 5000 + b"}",
    "NaN": b'{"event": "meeting.started", "n": NaN}',
    "a body that is not UTF-8": b'{"event": "\xff\xfe"}',
    "an event that is a number": b'{"event": 42}',
    "a meeting that is a list": json.dumps({"event": "meeting.ended", "meeting": []}).encode(),
    "a participant that is a text": json.dumps(_event_with(participant="someone")).encode(),
    "a recording that is a number": json.dumps({"event": "recording.statusUpdate", "recording": 5}).encode(),
    "a meeting id that is an object": json.dumps({"event": "meeting.ended", "meeting": {"id": {"a": 1}}}).encode(),
    "a participant id that is a number": json.dumps(_event_with(participant={"customParticipantId": 7})).encode(),
    "a join time that is a number": json.dumps(_event_with(participant={"joinedAt": 1700000000})).encode(),
    "a join time that is not a time": json.dumps(_event_with(participant={"joinedAt": "yesterday"})).encode(),
    "a join time before the first UTC instant": json.dumps(
        _event_with(participant={"joinedAt": "0001-01-01T00:00:00+01:00"})
    ).encode(),
    "a join time after the last UTC instant": json.dumps(
        _event_with(participant={"joinedAt": "9999-12-31T23:59:59-01:00"})
    ).encode(),
    "a join time in the year 9999": json.dumps(_event_with(participant={"joinedAt": "9999-12-31T23:59:59Z"})).encode(),
}


@pytest.mark.parametrize("body", _UNREADABLE_BODIES.values(), ids=_UNREADABLE_BODIES.keys())
def test_a_signed_body_with_bad_input_is_a_json_400_and_stores_nothing(client, fake_rtk, body):
    response = fake_rtk.send_webhook(client, body)
    assert response.status_code == 400 and response.is_json, response.get_data(as_text=True)[:300]
    assert response.json["error"]["code"] == "invalid_webhook"
    assert _deliveries() == 0


@pytest.mark.parametrize("custom_id", ["²", "99999999999999999999", "-1", "a1"])
def test_a_participant_id_that_names_no_user_is_stored_and_ignored(client, fake_rtk, live_session, custom_id):
    payload = {
        "event": "meeting.participantJoined",
        "meeting": {"id": live_session.room_id},
        "participant": {"customParticipantId": custom_id, "joinedAt": iso(now_utc())},
    }
    response = fake_rtk.send_webhook(client, payload)
    assert response.status_code == 200 and "unknown" in response.json["outcome"]
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 0


def test_a_webhook_over_the_size_cap_is_refused_as_json(client, fake_rtk):
    body = json.dumps({"event": "meeting.started", "padding": "x" * (2 * 1024 * 1024)}).encode()
    response = fake_rtk.send_webhook(client, body)
    assert response.status_code == 413 and response.is_json and _deliveries() == 0


def test_a_fault_of_ours_is_a_json_500_so_the_provider_retries(client, fake_rtk, monkeypatch):
    def broken(payload):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cloudflare_webhooks, "apply_event", broken)
    response = fake_rtk.send_webhook(client, {"event": "meeting.started", "meeting": {"id": "x"}})
    assert response.status_code == 500 and response.is_json
    assert response.json["error"]["code"] == "internal_error" and _deliveries() == 0


def test_a_delivery_that_failed_for_want_of_the_provider_leaves_nothing_so_its_retry_is_applied(
    client, fake_rtk, live_session, monkeypatch
):
    real_apply = cloudflare_webhooks.apply_event

    def provider_down_once(payload):
        monkeypatch.setattr(cloudflare_webhooks, "apply_event", real_apply)
        raise ServiceUnavailable("The provider is down.")

    monkeypatch.setattr(cloudflare_webhooks, "apply_event", provider_down_once)
    body, headers = fake_rtk.webhook_request(fake_rtk.meeting_event("meeting.ended", live_session.room_id))
    failed = client.post("/webhooks/cloudflare", data=body, headers=headers)
    assert failed.status_code == 503 and _deliveries() == 0  # RealtimeKit retries a 5xx
    retried = client.post("/webhooks/cloudflare", data=body, headers=headers)
    assert retried.status_code == 200 and retried.json["duplicate"] is False
    db.session.expire_all()
    assert db.session.get(TrainingSession, live_session.id).status == "ended" and _deliveries() == 1
