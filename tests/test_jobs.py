"""Room provisioning, auto-end and the daily cleanup, each run by a real worker against the real test Redis with
the clock moved; each safe to run twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from portal.audit.models import AuditEntry
from portal.core.clock import now_utc
from portal.core.queue import enqueue, get_queue
from portal.extensions import db
from portal.training import jobs, rooms
from portal.video.models import LocalRoom
from tests.conftest import sign_in


def _refresh(*rows):
    for row in rows:
        db.session.refresh(row)


def _database_outage() -> OperationalError:
    return OperationalError("UPDATE training_sessions ...", {}, ConnectionError("server closed the connection"))


def _failing_first(real, times: int = 1):
    """`real`, except that its first `times` calls meet a database outage (before the job wrote anything)."""
    left = {"failures": times}

    def call(*args, **kwargs):
        if left["failures"]:
            left["failures"] -= 1
            raise _database_outage()
        return real(*args, **kwargs)

    return call


# ------------------------------------------------------------------------------------------------ rooms
def test_provision_job_gives_a_new_session_its_room_once(make_session, run_jobs, clock):
    session = make_session(start_in=timedelta(days=3), room_status="pending")
    enqueue(rooms.provision_room, session.id)
    enqueue(rooms.provision_room, session.id)  # a duplicate: the second finds the room ready
    result = run_jobs()
    assert result.names() == ["provision_room", "provision_room"]
    _refresh(session)
    assert session.room_status == "ready" and session.room_id.startswith("local-")
    assert db.session.scalar(select(func.count()).select_from(LocalRoom)) == 1


def test_only_one_of_two_concurrent_attempts_may_provision(make_session, clock):
    session = make_session(start_in=timedelta(hours=1), room_status="pending")
    assert rooms._claim_provisioning(session.id) is True
    assert rooms._claim_provisioning(session.id) is False  # the lease is held by the first attempt
    db.session.rollback()


def test_sweep_provisions_sessions_starting_soon_that_lack_a_room(make_session, run_jobs, clock):
    soon = make_session(start_in=timedelta(minutes=90), room_status="pending")
    later = make_session(start_in=timedelta(hours=5), room_status="pending")
    canceled = make_session(start_in=timedelta(minutes=30), room_status="none", status="canceled")
    enqueue(rooms.sweep_rooms)
    run_jobs()
    _refresh(soon, later, canceled)
    assert (soon.room_status, later.room_status, canceled.room_status) == ("ready", "pending", "none")


def test_a_room_job_that_failed_before_its_first_write_is_run_again_by_the_next_sweep(
    make_session, run_jobs, clock, monkeypatch
):
    session = make_session(start_in=timedelta(minutes=90), room_status="pending")
    monkeypatch.setattr(rooms, "_claim_provisioning", _failing_first(rooms._claim_provisioning))
    enqueue(rooms.sweep_rooms)
    assert run_jobs().names("failed") == ["provision_room"]
    _refresh(session)
    assert (session.room_status, session.room_attempts) == ("pending", 0)  # the job id did not move on

    clock.shift(timedelta(minutes=1))
    enqueue(rooms.sweep_rooms)  # the next minute's sweep: the failed job's id does not refuse it
    result = run_jobs()
    assert result.names() == ["sweep_rooms", "provision_room"]
    _refresh(session)
    assert session.room_status == "ready" and session.room_attempts == 1
    assert db.session.scalar(select(func.count()).select_from(LocalRoom)) == 1


@pytest.fixture
def provider_down(cloudflare_app, fake_rtk):
    fake_rtk.fail_next(1000, status=503, path_contains="/meetings", method="POST")
    return fake_rtk


def test_provider_down_session_stays_and_the_sweep_retries_with_backoff(
    cloudflare_app, provider_down, make_session, run_jobs, clock
):
    session = make_session(start_in=timedelta(minutes=60), room_status="pending")
    enqueue(rooms.sweep_rooms)
    run_jobs()
    _refresh(session)
    assert session.status == "scheduled" and session.room_status == "failed" and session.room_error
    assert session.room_attempts == 1
    assert session.room_next_attempt_at == now_utc() + timedelta(minutes=1)
    calls = len(provider_down.calls("POST", "/meetings"))
    instructor_view = cloudflare_app.test_client()
    sign_in(instructor_view, session.instructor)
    page = instructor_view.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "Failed" in page and "retried automatically" in page  # the instructor sees the room state

    enqueue(rooms.sweep_rooms)  # inside the backoff: the provider is left alone
    run_jobs()
    assert len(provider_down.calls("POST", "/meetings")) == calls

    clock.shift(timedelta(minutes=1, seconds=1))
    enqueue(rooms.sweep_rooms)
    run_jobs()
    _refresh(session)
    assert session.room_attempts == 2
    assert session.room_next_attempt_at == now_utc() + timedelta(minutes=2)  # backing off further

    provider_down.faults.clear()  # the provider is back
    clock.shift(timedelta(minutes=2, seconds=1))
    enqueue(rooms.sweep_rooms)
    run_jobs()
    _refresh(session)
    assert (session.room_status, session.room_error, session.room_attempts) == ("ready", None, 3)
    assert session.room_id


def test_redis_down_at_create_the_sweep_provisions_when_it_is_back(make_app, make_user, run_jobs, clock):
    from portal.training.operations import create_session

    instructor = make_user("instructor")
    broken = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    with broken.app_context():
        start = now_utc() + timedelta(minutes=45)
        session = create_session(
            {"title": "Breakfalls", "start_time": start.isoformat(), "duration_minutes": 60},
            actor=db.session.get(type(instructor), instructor.id),
        )
        db.session.commit()  # Redis refuses the enqueue: logged, the commit stands
        session_id = session.id
        db.session.remove()
    enqueue(rooms.sweep_rooms)
    run_jobs()
    session = db.session.get(type(session), session_id)
    assert session.room_status == "ready"


# ------------------------------------------------------------------------------------------------ auto-end
def test_auto_end_ends_overdue_live_and_never_started_sessions_once(make_session, run_jobs, clock):
    live = make_session(
        start_in=timedelta(minutes=-120),
        duration_minutes=60,
        status="live",
        started_at=now_utc() - timedelta(minutes=120),
    )
    never = make_session(start_in=timedelta(minutes=-91), duration_minutes=60)
    in_grace = make_session(
        start_in=timedelta(minutes=-80),
        duration_minutes=60,
        status="live",
        started_at=now_utc() - timedelta(minutes=80),
    )
    enqueue(jobs.sweep_auto_end)
    run_jobs()
    enqueue(jobs.sweep_auto_end)
    enqueue(jobs.end_overdue_session, live.id)  # a duplicate job for the same session
    run_jobs()
    _refresh(live, never, in_grace)
    assert (live.status, live.end_reason) == ("ended", "overdue")
    assert (never.status, never.end_reason) == ("ended", "not_started")
    assert in_grace.status == "live"
    ends = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "session.end")).all()
    assert sorted(e.entity_id for e in ends) == sorted([live.id, never.id])
    assert all(e.actor_id is None for e in ends)

    clock.shift(timedelta(minutes=11))
    enqueue(jobs.sweep_auto_end)
    run_jobs()
    _refresh(in_grace)
    assert (in_grace.status, in_grace.end_reason) == ("ended", "overdue")


def test_an_auto_end_job_that_failed_for_good_is_run_again_by_the_next_sweep(
    make_session, run_jobs, clock, monkeypatch
):
    live = make_session(
        start_in=timedelta(minutes=-120),
        duration_minutes=60,
        status="live",
        started_at=now_utc() - timedelta(minutes=120),
    )
    real_locked = jobs._locked
    monkeypatch.setattr(jobs, "_locked", _failing_first(real_locked, times=4))  # an outage longer than rq's retries
    enqueue(jobs.sweep_auto_end)
    run_jobs()
    for retry_after in (30, 60, 120):
        clock.shift(timedelta(seconds=retry_after + 1))
        run_jobs()
    assert f"auto-end-{live.id}" in FailedJobRegistry(queue=get_queue()).get_job_ids()  # given up by rq
    _refresh(live)
    assert live.status == "live"

    enqueue(jobs.sweep_auto_end)  # the database is back: the next sweep's job is not refused by the failed one
    result = run_jobs()
    assert result.names() == ["sweep_auto_end", "end_overdue_session"]
    _refresh(live)
    assert (live.status, live.end_reason) == ("ended", "overdue")


# ------------------------------------------------------------------------------------------------ cleanup
def test_cleanup_deactivates_rooms_and_archives_old_sessions(make_session, run_jobs, clock):
    old = make_session(start_in=timedelta(days=-9), room_status="pending")
    recent = make_session(start_in=timedelta(days=-2), status="ended")
    canceled_old = make_session(start_in=timedelta(days=-10), status="canceled")
    upcoming = make_session(start_in=timedelta(days=2))
    enqueue(rooms.provision_room, old.id)
    run_jobs()
    db.session.refresh(old)
    old.status, old.ended_at = "ended", now_utc() - timedelta(days=8)  # its room was left open
    recent.ended_at = now_utc() - timedelta(days=2)
    db.session.commit()

    enqueue(jobs.cleanup)
    enqueue(jobs.cleanup)
    result = run_jobs()
    assert sorted([job.return_value() for job in result.finished], key=str) == [
        {"rooms_closed": 0, "rooms_failed": 0, "archived": 0},  # the second run finds nothing left to do
        {"rooms_closed": 1, "rooms_failed": 0, "archived": 2},
    ]
    _refresh(old, recent, canceled_old, upcoming)
    assert old.room_status == "inactive" and db.session.get(LocalRoom, old.room_id).is_active is False
    assert old.archived_at == now_utc() and canceled_old.archived_at == now_utc()
    assert recent.archived_at is None and upcoming.archived_at is None


# ------------------------------------------------------------------------------------------------ the fixture
def flaky_once(key: str) -> str:
    from portal.core.queue import get_redis

    if get_redis().incr(key) == 1:
        raise RuntimeError("first attempt fails")
    return "ok"


def test_run_jobs_runs_a_retry_once_the_clock_reaches_it(run_jobs, clock):
    from rq import Retry

    enqueue(flaky_once, "flaky-counter", retry=Retry(max=1, interval=60))
    first = run_jobs()
    assert first.finished == [] and first.failed == []  # waiting in the scheduled registry for its retry
    assert run_jobs().finished == []  # not yet
    clock.shift(timedelta(seconds=61))
    assert run_jobs().names() == ["flaky_once"]
