"""The JSON API of training sessions and events: the seed's contract, its shape, and its error contract."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.core.clock import now_utc
from portal.extensions import db
from portal.training.models import TrainingSession
from tests.conftest import NOW, csrf_token

SESSION_FIELDS = {
    "id",
    "event_id",
    "instructor_id",
    "title",
    "description",
    "start_time",
    "duration_minutes",
    "end_time",
    "capacity",
    "recording_enabled",
    "chat_enabled",
    "is_public",
    "members_only",
    "tags",
    "status",
    "room_id",
    "room_status",
    "started_at",
    "ended_at",
    "end_reason",
    "recording_id",
    "recording_status",
    "recording_url",
    "archived_at",
    "created_at",
    "updated_at",
    "seats_taken",
}


def body(**overrides):
    data = {
        "title": "Kumite drills",
        "start_time": (now_utc() + timedelta(days=1)).isoformat(),
        "duration_minutes": 90,
        "capacity": 10,
        "tags": ["Kumite"],
    }
    data.update(overrides)
    return data


def count_sessions() -> int:
    return db.session.scalar(select(func.count()).select_from(TrainingSession))


# ------------------------------------------------------------------------------------------------ happy paths
def test_create_returns_201_with_every_spec_field(clock, api_client):
    client, instructor = api_client("instructor")
    response = client.post("/api/training/sessions", json=body(start_time="2026-12-05T18:30:00+01:00"))
    assert response.status_code == 201, response.json
    data = response.json
    assert set(data) >= SESSION_FIELDS
    assert data["start_time"] == "2026-12-05T17:30:00+00:00"
    assert data["end_time"] == "2026-12-05T19:00:00+00:00"
    assert (data["status"], data["instructor_id"], data["tags"], data["seats_taken"]) == (
        "scheduled",
        instructor.id,
        ["kumite"],
        0,
    )
    assert response.headers["Location"].endswith(f"/api/training/sessions/{data['id']}")
    for legacy in ("session_date", "session_status", "cloudflare_room_id", "max_participants"):
        assert legacy not in data


def test_get_returns_the_same_shape(clock, api_client, make_session):
    client, _ = api_client("member")
    session = make_session()
    response = client.get(f"/api/training/sessions/{session.id}")
    assert response.status_code == 200 and set(response.json) >= SESSION_FIELDS


def test_list_paginates_filters_and_sorts(clock, api_client, make_session, make_user):
    client, _ = api_client("member")
    teacher = make_user("instructor")
    ids = [
        make_session(instructor=teacher, start_in=timedelta(hours=h), title=t).id
        for h, t in ((3, "b"), (1, "c"), (2, "a"))
    ]
    make_session(start_in=timedelta(hours=5))
    page = client.get(f"/api/training/sessions?instructor_id={teacher.id}&limit=2&offset=0").json
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 0)
    assert [item["id"] for item in page["items"]] == [ids[1], ids[2]]
    by_title = client.get(f"/api/training/sessions?instructor_id={teacher.id}&sort_by=title&sort_order=desc").json
    assert [item["title"] for item in by_title["items"]] == ["c", "b", "a"]


def test_list_upcoming_and_archived_filters(clock, api_client, make_session):
    client, _ = api_client("member")
    coming = make_session(start_in=timedelta(hours=1))
    make_session(start_in=timedelta(hours=-5), status="ended")
    archived = make_session(start_in=timedelta(days=-10), status="ended", archived_at=NOW - timedelta(days=1))
    assert [i["id"] for i in client.get("/api/training/sessions?upcoming=true").json["items"]] == [coming.id]
    assert archived.id not in [i["id"] for i in client.get("/api/training/sessions").json["items"]]
    with_archived = client.get("/api/training/sessions?include_archived=true").json
    assert archived.id in [i["id"] for i in with_archived["items"]] and with_archived["total"] == 3


def test_put_updates_and_delete_cancels_without_deleting(clock, api_client):
    client, _ = api_client("instructor")
    created = client.post("/api/training/sessions", json=body()).json
    updated = client.put(f"/api/training/sessions/{created['id']}", json={"title": "Renamed", "capacity": None})
    assert updated.status_code == 200 and (updated.json["title"], updated.json["capacity"]) == ("Renamed", None)
    canceled = client.delete(f"/api/training/sessions/{created['id']}")
    assert canceled.status_code == 200 and canceled.json["status"] == "canceled"
    assert count_sessions() == 1
    assert client.get(f"/api/training/sessions/{created['id']}").json["status"] == "canceled"


def test_start_and_end_through_the_api(clock, api_client):
    client, _ = api_client("instructor")
    created = client.post("/api/training/sessions", json=body()).json
    clock.shift(timedelta(days=1) - timedelta(minutes=5))  # the start rule: within the join window
    started = client.post(f"/api/training/sessions/{created['id']}/start")
    assert started.status_code == 200 and started.json["status"] == "live" and started.json["room_id"]
    ended = client.post(f"/api/training/sessions/{created['id']}/end")
    assert ended.status_code == 200 and ended.json["status"] == "ended" and ended.json["end_reason"] == "instructor"


def test_the_browser_session_works_for_the_api_too(clock, client, login_as):
    login_as("instructor")
    response = client.post("/api/training/sessions", json=body(), headers={"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 201


# ------------------------------------------------------------------------------------------------ error contract
def test_malformed_json_is_400_and_stores_nothing(clock, api_client):
    client, _ = api_client("instructor")
    response = client.post("/api/training/sessions", data="{not json", content_type="application/json")
    assert response.status_code == 400 and response.json["error"]["code"] == "malformed"
    assert client.post("/api/training/sessions", json=["a list"]).status_code == 400
    assert client.post("/api/training/sessions", data="title=x").status_code == 400
    assert count_sessions() == 0


def test_no_credentials_is_401_and_a_bad_token_is_401(clock, client):
    assert client.post("/api/training/sessions", json=body()).status_code == 401
    response = client.get("/api/training/sessions", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401 and response.json["error"]["code"] == "bad_token"


def test_a_member_may_not_create_403(clock, api_client):
    client, _ = api_client("member")
    response = client.post("/api/training/sessions", json=body())
    assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"


def test_unknown_id_is_404(api_client):
    client, _ = api_client("admin")
    for method, path in (
        ("get", "/api/training/sessions/9999"),
        ("put", "/api/training/sessions/9999"),
        ("delete", "/api/training/sessions/9999"),
        ("post", "/api/training/sessions/9999/start"),
        ("post", "/api/training/sessions/99999999999999999999/end"),
        ("get", "/api/events/99999999999999999999"),
    ):
        response = getattr(client, method)(path, json={"title": "x"})
        assert response.status_code == 404, (method, path)
        assert response.json["error"]["code"] == "not_found"


def test_a_naive_datetime_is_422(clock, api_client):
    client, _ = api_client("instructor")
    response = client.post("/api/training/sessions", json=body(start_time="2026-12-05T18:30:00"))
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid"
    assert "time zone" in response.json["error"]["fields"]["start_time"]
    assert count_sessions() == 0


def test_invalid_fields_are_422_with_every_field_named(clock, api_client):
    client, _ = api_client("instructor")
    response = client.post(
        "/api/training/sessions",
        json={"title": "", "duration_minutes": "60", "capacity": 5000, "is_public": "yes", "status": "live"},
    )
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {
        "title",
        "start_time",
        "duration_minutes",
        "capacity",
        "is_public",
        "status",
    }


def test_a_wrong_state_transition_is_409(clock, api_client, make_session):
    client, instructor = api_client("instructor")
    session = make_session(instructor=instructor)
    response = client.post(f"/api/training/sessions/{session.id}/end")
    assert response.status_code == 409 and response.json["error"]["code"] == "wrong_state"
    client.delete(f"/api/training/sessions/{session.id}")
    for method, path in (("post", "start"), ("put", ""), ("delete", "")):
        url = f"/api/training/sessions/{session.id}" + (f"/{path}" if path else "")
        assert getattr(client, method)(url, json={"title": "x"}).status_code == 409


def test_a_strangers_session_is_403_for_changes(clock, api_client, make_session):
    client, _ = api_client("instructor")
    session = make_session()
    for method, path in (("put", ""), ("delete", ""), ("post", "/start")):
        response = getattr(client, method)(f"/api/training/sessions/{session.id}{path}", json={"title": "Mine"})
        assert response.status_code == 403
    assert db.session.get(TrainingSession, session.id).title != "Mine"


def test_an_invisible_session_is_404_not_403(clock, api_client, make_session):
    client, _ = api_client("public")
    hidden = make_session(is_public=False)
    assert client.get(f"/api/training/sessions/{hidden.id}").status_code == 404
    assert client.put(f"/api/training/sessions/{hidden.id}", json={"title": "x"}).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "status=bogus",
        "sort_by=password",
        "sort_order=up",
        "limit=0",
        "limit=101",
        "offset=-1",
        "limit=ten",
        "upcoming=maybe",
        "instructor_id=abc",
    ],
)
def test_bad_list_parameters_are_400(api_client, query):
    client, _ = api_client("member")
    response = client.get(f"/api/training/sessions?{query}")
    assert response.status_code == 400 and response.json["error"]["code"] == "malformed"


def test_provider_down_on_start_is_a_clear_503_and_the_attempt_is_recorded(
    clock, api_client, make_session, app, monkeypatch
):
    from tests.test_training_operations import FailingProvider

    client, instructor = api_client("instructor")
    session = make_session(instructor=instructor, start_in=timedelta(minutes=5))  # within the start period
    monkeypatch.setitem(app.extensions, "portal.video", FailingProvider())
    response = client.post(f"/api/training/sessions/{session.id}/start")
    assert response.status_code == 503 and response.json["error"]["code"] == "room_unavailable"
    db.session.expire_all()
    stored = db.session.get(TrainingSession, session.id)
    assert stored.status == "scheduled" and stored.room_status == "failed"


# ------------------------------------------------------------------------------------------------ events
def test_event_json_includes_the_sessions_the_viewer_may_see(clock, client, api_client, make_event, make_session):
    event = make_event(visibility="public")
    public = make_session(event=event, is_public=True)
    members = make_session(event=event, is_public=False)
    member_client, _ = api_client("member")
    ids = [s["id"] for s in member_client.get(f"/api/events/{event.id}").json["training_sessions"]]
    assert ids == sorted([public.id, members.id], key=lambda i: [public.id, members.id].index(i))
    assert [s["id"] for s in client.get(f"/api/events/{event.id}").json["training_sessions"]] == [public.id]
    public_json = member_client.get(f"/api/events/public/{event.id}").json
    assert [s["id"] for s in public_json["training_sessions"]] == [public.id]


def test_the_public_event_endpoint_hides_members_events(make_event, api_client, client):
    event = make_event(visibility="members")
    member_client, _ = api_client("member")
    assert member_client.get(f"/api/events/public/{event.id}").status_code == 404
    assert member_client.get(f"/api/events/{event.id}").status_code == 200
    assert client.get(f"/api/events/{event.id}").status_code == 404


def test_board_members_create_and_edit_events(api_client):
    client, _ = api_client("board_member")
    created = client.post(
        "/api/events",
        json={
            "title": "Summer camp",
            "start_time": "2027-07-01T09:00:00+02:00",
            "end_time": "2027-07-05T17:00:00+02:00",
            "visibility": "public",
        },
    )
    assert created.status_code == 201 and created.json["training_sessions"] == []
    edited = client.put(f"/api/events/{created.json['id']}", json={"location": "Dojo Nord"})
    assert edited.status_code == 200 and edited.json["location"] == "Dojo Nord"


def test_event_validation_and_access(api_client):
    client, _ = api_client("board_member")
    bad = client.post(
        "/api/events",
        json={
            "title": "",
            "start_time": "2027-07-01T09:00:00",
            "end_time": "2027-07-01T08:00:00+00:00",
            "visibility": "secret",
        },
    )
    assert bad.status_code == 422
    assert set(bad.json["error"]["fields"]) == {"title", "start_time", "visibility"}
    backwards = client.post(
        "/api/events",
        json={"title": "x", "start_time": "2027-07-01T09:00:00+00:00", "end_time": "2027-07-01T08:00:00+00:00"},
    )
    assert backwards.json["error"]["fields"] == {"end_time": "The end must be after the start."}
    instructor_client, _ = api_client("instructor")
    assert instructor_client.post("/api/events", json={"title": "x"}).status_code == 403


def test_a_board_member_reassigns_the_instructor_and_the_json_follows(clock, api_client, make_session, make_user):
    client, _ = api_client("board_member")
    session = make_session()
    other = make_user("instructor", name="New Teacher")
    response = client.put(f"/api/training/sessions/{session.id}", json={"instructor_id": other.id})
    assert response.status_code == 200
    assert (response.json["instructor_id"], response.json["instructor_name"]) == (other.id, "New Teacher")


def test_anonymous_and_public_callers_list_only_public_sessions(clock, client, api_client, make_session):
    public = make_session(is_public=True)
    make_session(is_public=False)
    public_client, _ = api_client("public")
    for caller in (client, public_client):
        listing = caller.get("/api/training/sessions").json
        assert ([item["id"] for item in listing["items"]], listing["total"]) == ([public.id], 1)
    member_client, _ = api_client("member")
    assert member_client.get("/api/training/sessions").json["total"] == 2
