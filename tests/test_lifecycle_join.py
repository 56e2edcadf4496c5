"""The seed's seven "can user join" cases, end to end: sessions moved through this package's operations and API,
then asked through GET /api/training/sessions/{id}/can-join (the joining package's eligibility). The two packages
must agree on every state."""

from __future__ import annotations

from datetime import timedelta

from portal.extensions import db
from portal.training import operations


def can_join(client, session_id):
    response = client.get(f"/api/training/sessions/{session_id}/can-join")
    assert response.status_code == 200, response.json
    return response.json


def test_a_started_live_session_can_be_joined(clock, api_client, make_session):
    session = make_session(start_in=timedelta(minutes=2), is_public=True)
    operations.start_session(session, actor=session.instructor)
    db.session.commit()
    client, _ = api_client("member")
    assert can_join(client, session.id)["can_join"] is True


def test_a_canceled_session_cannot_be_joined(clock, api_client, make_session):
    session = make_session(start_in=timedelta(minutes=5))
    operations.cancel_session(session, actor=session.instructor)
    db.session.commit()
    client, _ = api_client("member")
    assert (can_join(client, session.id)["can_join"], can_join(client, session.id)["reason"]) == (False, "canceled")


def test_an_ended_session_cannot_be_joined(clock, api_client, make_session):
    session = make_session(start_in=timedelta(minutes=-5))
    operations.start_session(session, actor=session.instructor)
    operations.end_session(session, actor=session.instructor)
    db.session.commit()
    client, _ = api_client("member")
    assert can_join(client, session.id)["reason"] == "ended"


def test_too_early_cannot_join(clock, api_client):
    instructor_client, _ = api_client("instructor")
    start = clock.now() + timedelta(minutes=30)
    created = instructor_client.post(
        "/api/training/sessions", json={"title": "Later", "start_time": start.isoformat(), "duration_minutes": 30}
    ).json
    client, _ = api_client("member")
    answer = can_join(client, created["id"])
    assert (answer["can_join"], answer["reason"]) == (False, "too_early")


def test_a_full_session_cannot_be_joined(clock, api_client, make_session):
    session = make_session(start_in=timedelta(minutes=5), capacity=1)
    first, _ = api_client("member")
    assert first.post(f"/api/training/sessions/{session.id}/seat", json={}).status_code in (200, 201)
    second, _ = api_client("member")
    assert can_join(second, session.id)["reason"] == "full"


def test_a_members_only_session_refuses_a_public_user(clock, api_client, make_session):
    session = make_session(start_in=timedelta(minutes=5), is_public=True, members_only=True)
    client, _ = api_client("public")
    assert can_join(client, session.id)["reason"] == "members_only"


def test_inside_the_ten_minute_window_a_member_can_join(clock, api_client, make_session):
    session = make_session(start_in=timedelta(minutes=10, seconds=1))
    client, _ = api_client("member")
    assert can_join(client, session.id)["reason"] == "too_early"
    clock.shift(timedelta(seconds=1))
    assert can_join(client, session.id)["can_join"] is True
