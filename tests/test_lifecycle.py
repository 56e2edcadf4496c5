"""The lifecycle of a session: scheduled -> live -> ended, scheduled -> canceled; ended and canceled are final.
Every (state, action) pair through the API, as the session's own instructor, with the status code and the state
after."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.extensions import db
from portal.training import rules
from portal.training.models import TrainingSession

ACTIONS = {
    "edit": ("put", "", {"title": "Edited"}),
    "cancel": ("delete", "", None),
    "start": ("post", "/start", None),
    "end": ("post", "/end", None),
}
# state -> action -> (status code, state afterwards)
MATRIX = {
    "scheduled": {
        "edit": (200, "scheduled"),
        "cancel": (200, "canceled"),
        "start": (200, "live"),
        "end": (409, "scheduled"),
    },
    "live": {"edit": (200, "live"), "cancel": (409, "live"), "start": (409, "live"), "end": (200, "ended")},
    "ended": {"edit": (409, "ended"), "cancel": (409, "ended"), "start": (409, "ended"), "end": (409, "ended")},
    "canceled": {
        "edit": (409, "canceled"),
        "cancel": (409, "canceled"),
        "start": (409, "canceled"),
        "end": (409, "canceled"),
    },
}


@pytest.mark.parametrize(("state", "action"), [(s, a) for s in MATRIX for a in ACTIONS])
def test_state_transition(api_client, make_session, state, action):
    client, instructor = api_client("instructor")
    # within the start period (the start rule): only the state decides here
    session = make_session(instructor=instructor, status=state, start_in=timedelta(minutes=5))
    method, suffix, body = ACTIONS[action]
    response = getattr(client, method)(f"/api/training/sessions/{session.id}{suffix}", json=body)
    expected_code, expected_state = MATRIX[state][action]
    assert response.status_code == expected_code, response.json
    db.session.expire_all()
    assert db.session.get(TrainingSession, session.id).status == expected_state
    if expected_code == 409:
        assert response.json["error"]["code"] == "wrong_state" and response.json["error"]["message"]


def test_a_whole_session_from_scheduling_to_the_end(clock, api_client):
    client, _ = api_client("instructor")
    start = clock.now() + timedelta(minutes=30)
    created = client.post(
        "/api/training/sessions",
        json={"title": "Journey", "start_time": start.isoformat(), "duration_minutes": 45, "recording_enabled": True},
    ).json
    clock.shift(timedelta(minutes=25))
    live = client.post(f"/api/training/sessions/{created['id']}/start").json
    assert live["status"] == "live" and live["started_at"] == clock.now().isoformat()
    assert live["recording_status"] == "recording"
    clock.shift(timedelta(minutes=50))
    ended = client.post(f"/api/training/sessions/{created['id']}/end").json
    assert ended["status"] == "ended" and ended["ended_at"] == clock.now().isoformat()
    assert ended["room_status"] == "inactive"
    assert client.put(f"/api/training/sessions/{created['id']}", json={"title": "Too late"}).status_code == 409


@pytest.mark.parametrize(
    ("state", "action", "allowed"),
    [
        ("scheduled", "edit", True),
        ("live", "edit", True),
        ("ended", "edit", False),
        ("canceled", "edit", False),
        ("scheduled", "start", True),
        ("live", "end", True),
        ("scheduled", "end", False),
    ],
)
def test_transition_rules_are_pure(state, action, allowed):
    assert (rules.transition_error(state, action) is None) is allowed


def test_only_the_worker_ends_a_never_started_session():
    assert rules.end_transition_error("scheduled", by_system=True, reason="not_started") is None
    assert rules.end_transition_error("scheduled", by_system=False, reason="not_started") is not None
    assert rules.end_transition_error("canceled", by_system=True, reason="not_started") is not None
