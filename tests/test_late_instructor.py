"""The late-instructor routine (SPEC "After the session, and when things go wrong"): 5 minutes after start_time with
the session still `scheduled`, the minute sweep sets `late_notice_at` and sends `training.instructor_late` once;
waiting members see "The instructor is running late and has been told." on the join panel and the waiting page,
and the panel's ETag changes with it (so a poll answered 304 never hides it)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from portal.extensions import db
from portal.training import jobs
from portal.training.models import SessionStatus, TrainingSession
from portal.training.signals import instructor_late
from tests.test_panel import panel_url

LATE_TEXT = "The instructor is running late and has been told."


@pytest.fixture
def told():
    """The sessions instructor_late was sent for, in order (from any thread)."""
    sent: list[int] = []
    lock = threading.Lock()

    def receiver(session, **_):
        with lock:
            sent.append(session.id)

    instructor_late.connect(receiver)
    yield sent
    instructor_late.disconnect(receiver)


def stored(session) -> TrainingSession:
    db.session.expire_all()
    return db.session.get(TrainingSession, session.id)


def test_the_sweep_tells_once_five_minutes_after_the_start(make_session, clock, told):
    session = make_session(start_in=timedelta(minutes=10))
    clock.shift(timedelta(minutes=14, seconds=59))  # 4:59 past the start
    assert jobs.sweep_late_instructors() == 0
    assert stored(session).late_notice_at is None and told == []

    at = clock.shift(timedelta(seconds=1))  # 5:00 past the start
    assert jobs.sweep_late_instructors() == 1
    assert stored(session).late_notice_at == at
    assert told == [session.id]

    clock.shift(timedelta(minutes=1))  # the next minute's run, and a run twice in the same minute
    assert jobs.sweep_late_instructors() == 0
    assert jobs.sweep_late_instructors() == 0
    assert told == [session.id]
    assert stored(session).late_notice_at == at


def test_only_sessions_still_scheduled_and_not_overdue_are_told(make_session, clock, told):
    late = make_session(start_in=timedelta(minutes=-6))
    make_session(start_in=timedelta(minutes=-6), status=SessionStatus.LIVE.value)
    make_session(start_in=timedelta(minutes=-6), status=SessionStatus.CANCELED.value)
    make_session(start_in=timedelta(minutes=-6), status=SessionStatus.ENDED.value)
    make_session(start_in=timedelta(minutes=-4))  # not 5 minutes yet
    # past its end and the auto-end grace (30 min): auto-end ends it as not_started; no late notice after the fact
    make_session(start_in=timedelta(minutes=-100), duration_minutes=60)
    assert jobs.sweep_late_instructors() == 1
    assert told == [late.id]


def test_a_claim_lost_to_another_worker_sends_nothing(make_session, clock, told):
    session = make_session(start_in=timedelta(minutes=-5))
    assert jobs.notify_late_instructor(session.id) is True
    assert jobs.notify_late_instructor(session.id) is False
    assert told == [session.id]


def test_a_session_started_meanwhile_is_not_told(make_session, clock, told):
    session = make_session(start_in=timedelta(minutes=-7))
    db.session.execute(TrainingSession.__table__.update().where(TrainingSession.id == session.id).values(status="live"))
    db.session.commit()
    assert jobs.notify_late_instructor(session.id) is False
    assert told == [] and stored(session).late_notice_at is None


def test_two_sweeps_at_once_tell_each_session_once(app, make_session, clock, told):
    sessions = [make_session(start_in=timedelta(minutes=-6)) for _ in range(4)]
    barrier = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                counts.append(jobs.sweep_late_instructors())
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(counts) == 4
    assert sorted(told) == sorted(s.id for s in sessions)


# ------------------------------------------------------------------------------------------------ what members see
def _panel(htmx, session, etag: str | None = None):
    headers = {"If-None-Match": f'"{etag}"'} if etag else {}
    return htmx.get(panel_url(session), headers=headers)


def test_waiting_members_see_the_notice_and_the_etag_changes(htmx, login_as, make_session, make_seat, clock, told):
    member = login_as("member", client=htmx)
    session = make_session(start_in=timedelta(minutes=-6), capacity=10)
    make_seat(session, member)

    before = _panel(htmx, session)
    assert before.status_code == 200
    html = before.get_data(as_text=True)
    assert "Waiting for the instructor to start." in html and LATE_TEXT not in html
    etag = before.get_etag()[0]
    assert _panel(htmx, session, etag).status_code == 304

    assert jobs.sweep_late_instructors() == 1
    clock.shift(timedelta(seconds=2))  # past the shared snapshot's second (another process's write)
    after = _panel(htmx, session, etag)
    assert after.status_code == 200, "a poll with the old ETag must get the notice"
    assert LATE_TEXT in after.get_data(as_text=True)
    assert after.get_etag()[0] != etag

    waiting = htmx.get(f"/sessions/{session.id}/join/status").get_data(as_text=True)
    assert LATE_TEXT in waiting
    page = htmx.get(f"/sessions/{session.id}/join", headers={"HX-Request": "false"}).get_data(as_text=True)
    assert LATE_TEXT in page


def test_the_instructor_sees_no_late_notice_on_the_waiting_page(htmx, login_as, make_session, clock, told):
    instructor = login_as("instructor", client=htmx)
    session = make_session(instructor=instructor, start_in=timedelta(minutes=-6))
    jobs.sweep_late_instructors()
    waiting = htmx.get(f"/sessions/{session.id}/join/status").get_data(as_text=True)
    assert "People wait here until you start the session." in waiting and LATE_TEXT not in waiting


def test_the_etag_changes_when_it_becomes_too_late_to_start(htmx, login_as, make_session, clock):
    """The instructor's panel differs only in its Start note once past the auto-end deadline: the ETag says so."""
    instructor = login_as("instructor", client=htmx)
    session = make_session(instructor=instructor, start_in=timedelta(minutes=-10), duration_minutes=60)
    db.session.execute(
        TrainingSession.__table__.update().where(TrainingSession.id == session.id).values(late_notice_at=clock.now())
    )
    db.session.commit()
    clock.shift(timedelta(minutes=79))  # 10 + 79 = 89 min past the start: the start is still open (60 + 30 grace)
    still_open = _panel(htmx, session)
    assert "Too late to start" not in still_open.get_data(as_text=True)
    etag = still_open.get_etag()[0]
    clock.shift(timedelta(minutes=2))
    late = _panel(htmx, session, etag)
    assert late.status_code == 200, "too late to start must not be a 304 of the open stage"
    assert "Too late to start" in late.get_data(as_text=True)


def test_the_minute_auto_end_sweep_runs_it(make_session, clock, told):
    """The cron table's minute `auto-end` job (portal/schedule.py) sends the notices too."""
    from portal.schedule import SCHEDULE

    assert any(e.func == "portal.training.jobs.sweep_auto_end" and e.cron == "* * * * *" for e in SCHEDULE)
    session = make_session(start_in=timedelta(minutes=-5))
    assert jobs.sweep_auto_end() == 0  # nothing overdue to end
    assert told == [session.id]
    jobs.sweep_auto_end()
    assert told == [session.id]
