"""One room per session, whoever asks first and however many ask at once (issue 16, item 2).

Real threads join at once through the JSON API, against the local provider and against the fake RealtimeKit
server with a slow create: one provider room is made, stored, and every joiner is admitted to it. A crashed
creator's claim runs out; a room made but not stored is closed (at once, or by the orphan sweep).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import func, select

from portal.accounts.auth import issue_token
from portal.core.clock import now_utc
from portal.core.errors import ServiceUnavailable
from portal.extensions import db
from portal.training import rooms
from portal.training.models import TrainingSession
from portal.video import get_provider
from portal.video.cloudflare.provider import meeting_title
from portal.video.models import LocalRoom, VideoParticipant
from portal.video.port import ProviderError
from tests.plugins.video import cloudflare_settings

JOINERS = 5


def bearer_client(app: Flask, user) -> Any:
    token, _ = issue_token(user)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def join_at_once(clients: list, path: str) -> list[tuple[int, dict, dict]]:
    """POST `path` from every client at the same moment, each in its own thread: (status, json, headers) each."""
    barrier = threading.Barrier(len(clients))
    answers: list[Any] = [None] * len(clients)

    def run(i: int, client) -> None:
        barrier.wait()
        response = client.post(path)
        answers[i] = (response.status_code, response.get_json(), dict(response.headers))

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return answers


def stored(session_id: int):
    with db.engine.connect() as connection:
        return connection.execute(
            select(
                TrainingSession.room_id,
                TrainingSession.room_status,
                TrainingSession.room_claim,
                TrainingSession.room_attempts,
            ).where(TrainingSession.id == session_id)
        ).one()


def slow_creates(monkeypatch, seconds: float, *, fail: bool = False, until_waiting: int = 0) -> list[dict]:
    """The configured provider's create_room, slowed (and failing when `fail`); returns the list of its calls.
    With `until_waiting`, the create also holds on until that many other callers found the creation claimed (they
    wait for it), so a race is a race however slowly the threads arrive."""
    provider = get_provider()
    real = provider.create_room
    calls: list[dict] = []
    refused: list[int] = []
    real_claim = rooms._claim_creation

    def counting_claim(session_id: int):
        claim = real_claim(session_id)
        if claim is None:
            refused.append(session_id)
        return claim

    def slow(**kwargs):
        calls.append(kwargs)
        give_up = time.monotonic() + 20
        while len(refused) < until_waiting and time.monotonic() < give_up:
            time.sleep(0.02)
        time.sleep(seconds)
        if fail:
            raise ProviderError("provider down (503)", retryable=True, status=503)
        return real(**kwargs)

    monkeypatch.setattr(rooms, "_claim_creation", counting_claim)
    monkeypatch.setattr(provider, "create_room", slow)
    return calls


@pytest.fixture
def live(make_session, make_user):
    return make_session(instructor=make_user("instructor"), start_in=timedelta(minutes=-2), status="live", capacity=20)


# ------------------------------------------------------------------------------------------------ local provider
def test_simultaneous_joins_before_the_room_exists_make_one_room_and_admit_everyone_to_it(
    app, live, make_user, monkeypatch
):
    calls = slow_creates(monkeypatch, 0.2, until_waiting=JOINERS - 1)
    clients = [bearer_client(app, make_user("member")) for _ in range(JOINERS)]
    answers = join_at_once(clients, f"/api/training/sessions/{live.id}/join")

    assert [status for status, _, _ in answers] == [200] * JOINERS, answers
    row = stored(live.id)
    assert row.room_status == "ready" and row.room_claim is None
    assert len(calls) == 1 and row.room_attempts == 1
    assert {body["room_id"] for _, body, _ in answers} == {row.room_id}
    assert db.session.scalar(select(func.count()).select_from(LocalRoom)) == 1
    rooms_of_people = db.session.scalars(select(VideoParticipant.room_id).where(VideoParticipant.session_id == live.id))
    assert sorted(rooms_of_people) == [row.room_id] * JOINERS


def test_the_creators_failure_is_the_answer_of_those_waiting_for_it_and_the_provider_is_asked_once(
    app, live, make_user, monkeypatch
):
    calls = slow_creates(monkeypatch, 0.2, fail=True, until_waiting=2)
    clients = [bearer_client(app, make_user("member")) for _ in range(3)]
    answers = join_at_once(clients, f"/api/training/sessions/{live.id}/join")

    assert [status for status, _, _ in answers] == [503] * 3
    assert {body["error"]["code"] for _, body, _ in answers} == {"room_unavailable"}
    assert len(calls) == 1
    row = stored(live.id)
    assert (row.room_status, row.room_claim, row.room_id) == ("failed", None, None)


def test_a_joiner_waits_only_so_long_for_a_room_being_made_then_gets_a_retryable_503(
    make_app, make_session, make_user, monkeypatch
):
    quick = make_app(ROOM_WAIT_SECONDS=0.3)
    with quick.app_context():
        session = make_session(start_in=timedelta(minutes=-2), status="live", capacity=20)
        # another request is creating the room right now (its claim is fresh)
        db.session.execute(
            sa.update(TrainingSession)
            .where(TrainingSession.id == session.id)
            .values(room_claim="someone-else", room_claimed_at=now_utc())
        )
        db.session.commit()
        member = make_user("member")
        api = bearer_client(quick, member)
        response = api.post(f"/api/training/sessions/{session.id}/join")
        assert response.status_code == 503
        assert response.get_json()["error"]["code"] == "room_pending"
        assert response.headers["Retry-After"] == str(rooms.ROOM_PENDING_RETRY_AFTER)
        assert "try again" in response.get_json()["error"]["message"].lower()
        assert db.session.scalar(select(func.count()).select_from(LocalRoom)) == 0
        # the page says the same, as a page
        page = bearer_client(quick, member).post(f"/sessions/{session.id}/join")
        assert page.status_code == 503 and page.headers["Retry-After"] == str(rooms.ROOM_PENDING_RETRY_AFTER)
        assert "still being prepared" in page.get_data(as_text=True)

        # the other creator stores its room: the same joiner, asking again, is admitted to it
        db.session.add(LocalRoom(id="local-made-by-the-other", title=session.title))
        db.session.execute(
            sa.update(TrainingSession)
            .where(TrainingSession.id == session.id)
            .values(room_claim=None, room_claimed_at=None, room_id="local-made-by-the-other", room_status="ready")
        )
        db.session.commit()
        again = api.post(f"/api/training/sessions/{session.id}/join")
        assert again.status_code == 200 and again.get_json()["room_id"] == stored(session.id).room_id
        db.session.remove()


def test_a_crashed_creators_claim_runs_out_and_the_next_caller_makes_the_room(live, clock):
    db.session.execute(
        sa.update(TrainingSession)
        .where(TrainingSession.id == live.id)
        .values(room_claim="crashed", room_claimed_at=now_utc() - rooms.ROOM_CLAIM_LEASE - timedelta(seconds=1))
    )
    db.session.commit()
    room_id = rooms.ensure_room(live)
    row = stored(live.id)
    assert (row.room_id, row.room_status, row.room_claim) == (room_id, "ready", None)
    assert live.room_id == room_id and live.room_status == "ready"


def test_a_room_made_after_the_claim_was_taken_over_is_closed_at_once(cloudflare_app, cf_live, fake_rtk, monkeypatch):
    """A creator that outlived its lease: another took over and stored its meeting meanwhile. The first one's
    meeting is an orphan, closed at once, and the first caller gets the stored meeting."""
    provider = get_provider()
    real = provider.create_room
    base_url = cloudflare_app.extensions["portal.settings"].BASE_URL
    made: list[str] = []

    def create_then_lose_the_claim(**kwargs):
        made.append(real(**kwargs))
        other = provider.client.create_meeting(meeting_title("Taken over", 999_000, base_url))["id"]
        with db.engine.begin() as connection:
            connection.execute(
                sa.update(TrainingSession)
                .where(TrainingSession.id == cf_live.id)
                .values(room_id=other, room_status="ready", room_claim=None, room_claimed_at=None)
            )
        return made[-1]

    monkeypatch.setattr(provider, "create_room", create_then_lose_the_claim)
    room_id = rooms.ensure_room(cf_live)
    assert room_id == stored(cf_live.id).room_id == cf_live.room_id != made[0]
    assert fake_rtk.meetings[made[0]]["status"] == "INACTIVE"
    assert fake_rtk.meetings[room_id]["status"] == "ACTIVE"


def test_the_orphan_sweep_closes_old_unstored_local_rooms_only(live, clock):
    rooms.ensure_room(live)
    old = now_utc() - rooms.ROOM_CLAIM_LEASE - timedelta(minutes=1)
    db.session.add_all(
        [
            LocalRoom(id="local-orphan", title="orphan", created_at=old),
            LocalRoom(id="local-young", title="young orphan", created_at=now_utc()),
        ]
    )
    db.session.execute(sa.update(LocalRoom).where(LocalRoom.id == live.room_id).values(created_at=old))
    db.session.commit()
    assert rooms.close_orphan_rooms() == 1
    db.session.expire_all()
    assert db.session.get(LocalRoom, "local-orphan").is_active is False
    assert db.session.get(LocalRoom, "local-young").is_active is True  # its creator may still be storing it
    assert db.session.get(LocalRoom, live.room_id).is_active is True  # the session's room
    assert rooms.close_orphan_rooms() == 0


# ------------------------------------------------------------------------------------------------ cloudflare
@pytest.fixture
def cf_live(cloudflare_app, make_session, make_user):
    return make_session(instructor=make_user("instructor"), start_in=timedelta(minutes=-2), status="live", capacity=20)


def test_simultaneous_joins_with_a_slow_cloudflare_create_make_one_meeting(
    cloudflare_app, cf_live, fake_rtk, make_user
):
    fake_rtk.slow_next(0.8, path_contains="/meetings", method="POST")
    clients = [bearer_client(cloudflare_app, make_user("member")) for _ in range(JOINERS)]
    answers = join_at_once(clients, f"/api/training/sessions/{cf_live.id}/join")

    assert [status for status, _, _ in answers] == [200] * JOINERS, answers
    creates = [call for call in fake_rtk.calls("POST") if call.path.endswith("/meetings")]
    assert len(creates) == 1 and len(fake_rtk.meetings) == 1
    row = stored(cf_live.id)
    assert row.room_id in fake_rtk.meetings and row.room_status == "ready"
    assert {body["room_id"] for _, body, _ in answers} == {row.room_id}
    assert len(fake_rtk.participants[row.room_id]) == JOINERS


def test_a_cloudflare_joiner_that_waits_too_long_gets_a_retryable_503_and_then_the_one_meeting(
    make_app, fake_rtk, make_session, make_user, db
):
    app = make_app(**cloudflare_settings(fake_rtk, ROOM_WAIT_SECONDS=0.3))
    with app.app_context():
        session = make_session(start_in=timedelta(minutes=-2), status="live", capacity=20)
        fake_rtk.slow_next(1.5, path_contains="/meetings", method="POST")
        first, second = (bearer_client(app, make_user("member")) for _ in range(2))
        results: dict[str, Any] = {}
        creator = threading.Thread(
            target=lambda: results.update(first=first.post(f"/api/training/sessions/{session.id}/join").status_code)
        )
        creator.start()
        time.sleep(0.4)  # the creator is inside the provider's create
        response = second.post(f"/api/training/sessions/{session.id}/join")
        assert response.status_code == 503 and response.get_json()["error"]["code"] == "room_pending"
        assert int(response.headers["Retry-After"]) > 0
        creator.join(timeout=30)
        assert results["first"] == 200
        again = second.post(f"/api/training/sessions/{session.id}/join")
        assert again.status_code == 200 and again.get_json()["room_id"] == stored(session.id).room_id
        assert len(fake_rtk.meetings) == 1
        get_provider().client.http.close()
        db.session.remove()


def test_the_cloudflare_orphan_sweep_closes_this_portals_old_unstored_meetings_only(cloudflare_app, cf_live, fake_rtk):
    rooms.ensure_room(cf_live)
    base_url = cloudflare_app.extensions["portal.settings"].BASE_URL
    client = get_provider().client
    orphan = client.create_meeting(meeting_title("Crashed", 999_001, base_url))["id"]
    young = client.create_meeting(meeting_title("Still storing", 999_002, base_url))["id"]
    foreign = client.create_meeting(meeting_title("Another portal", 999_003, "https://other.example"))["id"]
    long_ago = "2020-01-01T00:00:00Z"
    for meeting_id in (orphan, foreign, cf_live.room_id):
        fake_rtk.meetings[meeting_id]["created_at"] = long_ago

    assert rooms.close_orphan_rooms() == 1
    assert fake_rtk.meetings[orphan]["status"] == "INACTIVE"
    assert fake_rtk.meetings[young]["status"] == "ACTIVE"
    assert fake_rtk.meetings[foreign]["status"] == "ACTIVE"  # not this portal's
    assert fake_rtk.meetings[cf_live.room_id]["status"] == "ACTIVE"  # the session's own


def test_an_orphan_the_provider_cannot_close_now_is_left_for_the_next_sweep(cloudflare_app, cf_live, fake_rtk):
    base_url = cloudflare_app.extensions["portal.settings"].BASE_URL
    orphan = get_provider().client.create_meeting(meeting_title("Crashed", 999_004, base_url))["id"]
    fake_rtk.meetings[orphan]["created_at"] = "2020-01-01T00:00:00Z"
    fake_rtk.fail_next(10, status=503, path_contains=f"/meetings/{orphan}", method="PATCH")
    assert rooms.close_orphan_rooms() == 0
    fake_rtk.faults.clear()
    assert rooms.close_orphan_rooms() == 1 and fake_rtk.meetings[orphan]["status"] == "INACTIVE"


def test_ensure_room_raises_room_unavailable_when_it_makes_the_attempt(live, monkeypatch):
    slow_creates(monkeypatch, 0, fail=True)
    with pytest.raises(ServiceUnavailable) as caught:
        rooms.ensure_room(live)
    assert caught.value.code == "room_unavailable" and live.room_status == "failed"
    assert stored(live.id).room_claim is None


def test_the_provisioning_job_leaves_a_room_being_made_by_a_join_to_it(make_app, make_session, monkeypatch):
    quick = make_app(ROOM_WAIT_SECONDS=0.2)
    with quick.app_context():
        session = make_session(start_in=timedelta(minutes=30))
        db.session.execute(
            sa.update(TrainingSession)
            .where(TrainingSession.id == session.id)
            .values(room_claim="a-join", room_claimed_at=now_utc())
        )
        db.session.commit()
        calls = slow_creates(monkeypatch, 0)
        assert rooms.provision_room(session.id).startswith("skipped")
        assert calls == []
        row = stored(session.id)
        assert (row.room_id, row.room_claim, row.room_attempts) == (None, "a-join", 0)
        db.session.remove()


def test_a_room_that_could_not_be_stored_releases_the_claim_so_the_next_caller_tries_at_once(live):
    def store_fails_once(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE training_sessions SET room_id"):
            sa.event.remove(db.engine, "before_cursor_execute", store_fails_once)
            raise sa.exc.OperationalError(statement, parameters, Exception("the database went away"))

    sa.event.listen(db.engine, "before_cursor_execute", store_fails_once)
    with pytest.raises(sa.exc.OperationalError):
        rooms.ensure_room(live)
    row = stored(live.id)
    assert (row.room_id, row.room_claim) == (None, None)
    assert db.session.scalar(select(func.count()).select_from(LocalRoom)) == 0  # it went with the transaction
    room_id = rooms.ensure_room(live)  # no waiting for a lease to run out
    assert stored(live.id).room_id == room_id


CREATOR_PROCESS = """
import json, pathlib, sys, time
from portal import create_app
from portal.extensions import db
from portal.training import rooms
from portal.training.models import TrainingSession
from portal.video import get_provider

config, session_id = json.loads(sys.argv[1]), int(sys.argv[2])
gate, me, everyone = sys.argv[3], sys.argv[4], int(sys.argv[5])
app = create_app(config)
with app.app_context():
    provider = get_provider()
    real = provider.create_room
    def slow(**kwargs):
        time.sleep(1.0)  # the provider takes its time: every other process asks meanwhile
        return real(**kwargs)
    provider.create_room = slow
    session = db.session.get(TrainingSession, session_id)
    pathlib.Path(gate, me).touch()  # ready; then all go at once
    while len(list(pathlib.Path(gate).iterdir())) < everyone:
        time.sleep(0.01)
    print(rooms.ensure_room(session))
    db.session.remove()
    db.engine.dispose()
"""


@pytest.mark.slow  # three processes start the portal (a few seconds each on a busy machine)
def test_processes_asking_at_once_get_one_room(base_config, live, tmp_path):
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CREATOR_PROCESS, json.dumps(base_config), str(live.id), str(tmp_path), str(n), "3"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    outputs = [process.communicate(timeout=60) for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], outputs
    room_ids = {out.strip().splitlines()[-1] for out, _err in outputs}
    assert room_ids == {stored(live.id).room_id}
    assert db.session.scalar(select(func.count()).select_from(LocalRoom)) == 1
