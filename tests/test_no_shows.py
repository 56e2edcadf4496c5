"""No-shows (SPEC "After the session, and when things go wrong"): attendance lists every seat holder, those who never
joined marked `no_show`; a session with `release_no_shows` on gives their seats to the waitlist 5 minutes after it
went live, once (the minute job portal.seats.jobs.release_no_shows), and sends seats_released because "no_show"."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.seats import jobs, operations
from portal.seats.attendance import attendance_rows
from portal.seats.models import Seat
from portal.seats.no_show_models import NoShowRelease
from portal.seats.signals import seats_promoted, seats_released
from portal.training.models import TrainingSession
from tests.test_panel import post


@pytest.fixture
def released():
    """(session id, [user ids], because) of every seats_released sent, in order (from any thread)."""
    sent: list[tuple[int, list[int], str]] = []
    lock = threading.Lock()

    def receiver(session, *, seats, because, **_):
        with lock:
            sent.append((session.id, sorted(seat.user_id for seat in seats), because))

    seats_released.connect(receiver)
    yield sent
    seats_released.disconnect(receiver)


@pytest.fixture
def promoted():
    sent: list[list[int]] = []

    def receiver(session, *, seats, **_):
        sent.append(sorted(seat.user_id for seat in seats))

    seats_promoted.connect(receiver)
    yield sent
    seats_promoted.disconnect(receiver)


@pytest.fixture
def day(make_session, make_user, make_seat, clock):
    """A live session (started now, 2 seats, release on): Aiko joined, Ben never came, Chloe waits on the list."""

    def factory(*, release: bool = True):
        session = make_session(
            start_in=timedelta(minutes=-1),
            status="live",
            started_at=clock.now(),
            capacity=2,
            release_no_shows=release,
        )
        aiko, ben, chloe = (make_user("member", name=name) for name in ("Aiko", "Ben", "Chloe"))
        make_seat(session, aiko)
        make_seat(session, ben)
        make_seat(session, chloe, "waitlisted")
        operations.record_join(session, aiko, clock.now())
        db.session.commit()
        return session, aiko, ben, chloe

    return factory


def seat_statuses(session) -> dict[int, str]:
    db.session.expire_all()
    return dict(db.session.execute(select(Seat.user_id, Seat.status).where(Seat.session_id == session.id)).all())


def stored(session) -> TrainingSession:
    db.session.expire_all()
    return db.session.get(TrainingSession, session.id)


# ------------------------------------------------------------------------------------------------ marking
def test_attendance_lists_every_seat_holder_and_marks_who_never_joined(day, clock):
    session, aiko, _ben, _chloe = day(release=False)
    clock.shift(timedelta(minutes=20))
    operations.record_leave(session, aiko, clock.now())
    db.session.commit()
    rows = {row.name: row for row in attendance_rows(session)}
    assert set(rows) == {"Aiko", "Ben"}  # Chloe is on the waitlist: no seat, not listed
    assert (rows["Aiko"].status, rows["Aiko"].minutes, rows["Aiko"].join_count) == ("attended", 20, 1)
    assert (rows["Ben"].status, rows["Ben"].minutes, rows["Ben"].join_count) == ("no_show", 0, 0)
    assert rows["Ben"].first_joined_at is None and rows["Ben"].is_no_show
    assert [row.name for row in attendance_rows(session)] == ["Aiko", "Ben"]  # who joined first, then no-shows


def test_someone_who_joined_without_a_seat_is_listed_and_a_canceled_seat_is_not(day, make_user, clock):
    session, _aiko, ben, _chloe = day(release=False)
    walk_in = make_user("member", name="Dana")
    operations.record_join(session, walk_in, clock.now())
    operations.cancel_seat(session, ben)  # Ben gave his seat up himself: he holds none (Chloe is promoted)
    db.session.commit()
    rows = {row.name: row.status for row in attendance_rows(session)}
    assert rows == {"Aiko": "attended", "Dana": "attended", "Chloe": "no_show"}


def test_before_the_session_starts_seat_holders_are_expected_not_no_shows(make_session, make_user, make_seat):
    session = make_session(start_in=timedelta(hours=1))
    make_seat(session, make_user("member", name="Eve"))
    assert [(row.name, row.status) for row in attendance_rows(session)] == [("Eve", "expected")]


# ------------------------------------------------------------------------------------------------ the release
def test_nothing_is_released_before_five_minutes_after_going_live(day, clock, released):
    session, _aiko, ben, chloe = day()
    clock.shift(timedelta(minutes=4, seconds=59))
    assert jobs.release_no_shows() == 0
    assert seat_statuses(session)[ben.id] == "confirmed" and seat_statuses(session)[chloe.id] == "waitlisted"
    assert released == [] and db.session.get(NoShowRelease, session.id) is None


def test_five_minutes_after_going_live_no_shows_seats_go_to_the_waitlist_once(day, clock, released, promoted):
    session, aiko, ben, chloe = day()
    at = clock.shift(timedelta(minutes=5))
    assert jobs.release_no_shows() == 1
    statuses = seat_statuses(session)
    assert statuses == {aiko.id: "confirmed", ben.id: "canceled", chloe.id: "confirmed"}
    assert stored(session).seats_taken == 2  # Ben's seat given back, Chloe promoted into it
    assert released == [(session.id, [ben.id], "no_show")]
    assert promoted == [[chloe.id]]
    release = db.session.get(NoShowRelease, session.id)
    assert (release.released_at, release.seats_released) == (at, 1)

    # the next minute, and a second run in the same minute: nothing more (Chloe has not joined either)
    clock.shift(timedelta(minutes=1))
    assert jobs.release_no_shows() == 0
    assert jobs.release_session_no_shows(session.id) == 0
    assert released == [(session.id, [ben.id], "no_show")] and promoted == [[chloe.id]]
    assert seat_statuses(session)[chloe.id] == "confirmed"

    # attendance still shows Ben, as a no-show; Chloe holds a seat and has not come yet
    rows = {row.name: row.status for row in attendance_rows(stored(session))}
    assert rows == {"Aiko": "attended", "Ben": "no_show", "Chloe": "no_show"}


def test_release_is_off_by_default(make_session, make_user, make_seat, clock, released):
    session = make_session(start_in=timedelta(minutes=-1), status="live", started_at=clock.now(), capacity=1)
    assert session.release_no_shows is False
    absent = make_user("member")
    make_seat(session, absent)
    make_seat(session, make_user("member"), "waitlisted")
    clock.shift(timedelta(minutes=30))
    assert jobs.release_no_shows() == 0
    assert seat_statuses(session)[absent.id] == "confirmed" and released == []
    assert db.session.get(NoShowRelease, session.id) is None


def test_only_live_sessions_release(make_session, make_user, make_seat, clock, released):
    ended = make_session(
        start_in=timedelta(hours=-2), status="ended", started_at=clock.now() - timedelta(hours=2), release_no_shows=True
    )
    scheduled = make_session(start_in=timedelta(minutes=-10), release_no_shows=True)  # the instructor is late
    for session in (ended, scheduled):
        make_seat(session, make_user("member"))
    assert jobs.release_no_shows() == 0 and released == []


def test_a_session_that_went_live_long_ago_is_released_when_the_job_next_runs(day, clock, released):
    session, _aiko, ben, _chloe = day()
    clock.shift(timedelta(minutes=40))  # the cron was down meanwhile
    assert jobs.release_no_shows() == 1
    assert released == [(session.id, [ben.id], "no_show")]


def test_without_a_waitlist_the_seat_is_simply_free(make_session, make_user, make_seat, clock, released, promoted):
    session = make_session(
        start_in=timedelta(minutes=-1), status="live", started_at=clock.now(), capacity=3, release_no_shows=True
    )
    absent = make_user("member")
    make_seat(session, absent)
    clock.shift(timedelta(minutes=6))
    assert jobs.release_no_shows() == 1
    assert stored(session).seats_taken == 0 and promoted == []
    assert released == [(session.id, [absent.id], "no_show")]


def test_two_workers_releasing_at_once_release_once(day, clock, released, app):
    session, _aiko, ben, _chloe = day()
    clock.shift(timedelta(minutes=5))
    results: list[int] = []
    barrier = threading.Barrier(2)

    def worker() -> None:
        with app.app_context():
            barrier.wait()
            results.append(jobs.release_session_no_shows(session.id))
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [0, 1]
    assert released == [(session.id, [ben.id], "no_show")]
    assert seat_statuses(session)[ben.id] == "canceled"


def test_a_released_no_show_may_still_join_if_a_seat_is_free(
    client, login_as, make_session, make_user, make_seat, clock
):
    session = make_session(
        start_in=timedelta(minutes=-1), status="live", started_at=clock.now(), capacity=2, release_no_shows=True
    )
    late = login_as("member", name="Late Larry")
    make_seat(session, late)
    clock.shift(timedelta(minutes=5))
    assert jobs.release_no_shows() == 1
    assert seat_statuses(session)[late.id] == "canceled"
    assert [(row.name, row.status) for row in attendance_rows(stored(session))] == [("Late Larry", "no_show")]

    clock.shift(timedelta(minutes=2))
    assert post(client, f"/sessions/{session.id}/join").status_code == 200  # a seat is free: taken on joining
    assert seat_statuses(session)[late.id] == "confirmed"
    assert [(row.name, row.status) for row in attendance_rows(stored(session))] == [("Late Larry", "attended")]


def test_a_released_no_show_finds_no_seat_when_the_waitlist_took_it(day, client, login_as, clock):
    session, _aiko, ben, _chloe = day()
    clock.shift(timedelta(minutes=5))
    jobs.release_no_shows()
    login_as(ben)
    response = post(client, f"/sessions/{session.id}/join")
    assert response.status_code == 409  # full: Chloe has the seat now
    assert seat_statuses(session)[ben.id] == "canceled"
