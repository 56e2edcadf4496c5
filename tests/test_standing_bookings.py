"""Standing bookings of a training series (issue 11): a seat or waitlist place on every future occurrence through
the ordinary reserve, occurrences made later inherit them, canceling one date keeps the booking, ending it
releases the future seats; and two members racing for the last seat of a series."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.accounts import signals as account_signals
from portal.accounts.models import User
from portal.extensions import db
from portal.seats import operations as seat_ops
from portal.seats import standing
from portal.seats.models import Seat
from portal.seats.standing_models import StandingBooking
from portal.training import series as series_ops
from portal.training.models import TrainingSession
from portal.training.series_models import TrainingSeries


def series_body(**overrides):
    data = {
        "title": "Kata",
        "duration_minutes": 60,
        "capacity": 1,
        "first_start": "2027-01-04T18:00",
        "time_zone": "America/New_York",
        "weekdays": ["MO"],
        "interval_weeks": 1,
        "count": 3,
    }
    return data | overrides


@pytest.fixture
def made(api_client, clock):
    client, _instructor = api_client("instructor")
    response = client.post("/api/training/series", json=series_body())
    assert response.status_code == 201, response.json
    return response.json["series"]["id"], response.json["occurrence_ids"]


def statuses(session_ids, user) -> list[str | None]:
    db.session.expire_all()
    rows = {
        s.session_id: s.status
        for s in db.session.scalars(select(Seat).where(Seat.user_id == user.id, Seat.session_id.in_(session_ids)))
    }
    return [rows.get(i) for i in session_ids]


def counters(session_ids) -> list[int]:
    db.session.expire_all()
    return [db.session.get(TrainingSession, i).seats_taken for i in session_ids]


def test_booking_a_series_takes_a_seat_or_waitlist_place_on_every_occurrence(made, api_client):
    series_id, ids = made
    first, alice = api_client("member")
    second, bob = api_client("member")
    response = first.post(f"/api/training/series/{series_id}/booking")
    assert response.status_code == 201
    assert [s["status"] for s in response.json["seats"]] == ["confirmed"] * 3
    response = second.post(f"/api/training/series/{series_id}/booking")
    assert response.status_code == 201 and [s["status"] for s in response.json["seats"]] == ["waitlisted"] * 3
    assert statuses(ids, alice) == ["confirmed"] * 3 and statuses(ids, bob) == ["waitlisted"] * 3
    assert counters(ids) == [1, 1, 1]
    assert first.post(f"/api/training/series/{series_id}/booking").status_code == 200  # again: harmless


def test_canceling_one_seat_keeps_the_standing_booking(made, api_client):
    series_id, ids = made
    client, alice = api_client("member")
    _, bob = api_client("member")
    client.post(f"/api/training/series/{series_id}/booking")
    series = db.session.get(TrainingSeries, series_id)
    standing.book_series(series, bob)
    db.session.commit()
    seat_ops.cancel_seat(db.session.get(TrainingSession, ids[1]), alice)
    db.session.commit()
    assert statuses(ids, alice) == ["confirmed", "canceled", "confirmed"]
    assert statuses(ids, bob) == ["waitlisted", "confirmed", "waitlisted"]  # promoted as usual
    assert standing.booking_of(series, alice) is not None


def test_occurrences_made_later_inherit_the_standing_booking(api_client, clock):
    client, _ = api_client("instructor")
    body = series_body(first_start="2027-11-22T18:00", count=4, capacity=5)
    response = client.post("/api/training/series", json=body)
    series_id = response.json["series"]["id"]
    assert len(response.json["occurrence_ids"]) == 2
    member, alice = api_client("member")
    member.post(f"/api/training/series/{series_id}/booking")
    _, ended = api_client("member")
    series = db.session.get(TrainingSeries, series_id)
    standing.book_series(series, ended)
    standing.end_booking(series, ended)
    db.session.commit()
    clock.shift(timedelta(days=14))
    later = series_ops.extend_series(series)
    db.session.commit()
    assert len(later) == 2
    assert statuses([s.id for s in later], alice) == ["confirmed", "confirmed"]
    assert statuses([s.id for s in later], ended) == [None, None]


def test_ending_the_booking_releases_future_seats_to_the_waitlist(made, api_client, clock):
    series_id, ids = made
    first, alice = api_client("member")
    second, bob = api_client("member")
    first.post(f"/api/training/series/{series_id}/booking")
    second.post(f"/api/training/series/{series_id}/booking")
    response = first.delete(f"/api/training/series/{series_id}/booking")
    assert response.status_code == 200 and response.json["released_session_ids"] == ids
    assert statuses(ids, alice) == ["canceled"] * 3 and statuses(ids, bob) == ["confirmed"] * 3
    assert first.delete(f"/api/training/series/{series_id}/booking").status_code == 404
    row = db.session.scalar(select(StandingBooking).where(StandingBooking.user_id == alice.id))
    assert row.ended_at is not None


def test_who_may_not_reserve_may_not_book_the_series(made, api_client, client):
    series_id, _ids = made
    public_client, _public_user = api_client("public")
    assert public_client.post(f"/api/training/series/{series_id}/booking").status_code == 404  # not visible
    assert client.post(f"/api/training/series/{series_id}/booking").status_code == 401
    assert db.session.scalar(select(StandingBooking)) is None


def test_a_series_with_nothing_left_to_book_is_refused(made, api_client):
    series_id, ids = made
    for session_id in ids:
        db.session.get(TrainingSession, session_id).status = "canceled"
    db.session.commit()
    member, _ = api_client("member")
    assert member.post(f"/api/training/series/{series_id}/booking").status_code == 409


def test_deactivating_a_person_ends_their_standing_bookings(made, api_client):
    series_id, _ids = made
    member, alice = api_client("member")
    member.post(f"/api/training/series/{series_id}/booking")
    account_signals.user_deactivated.send(alice)
    db.session.commit()
    assert standing.booking_of(db.session.get(TrainingSeries, series_id), alice) is None


# ------------------------------------------------------------------------------------------------ concurrency
def test_two_members_booking_the_last_seat_of_a_series_at_once(app, made, make_user):
    series_id, ids = made
    user_ids = [make_user("member").id, make_user("member").id]
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def book(user_id: int) -> None:
        barrier.wait()
        with app.app_context():
            try:
                standing.book_series(db.session.get(TrainingSeries, series_id), db.session.get(User, user_id))
                db.session.commit()
            except Exception as exc:  # reported by the test
                db.session.rollback()
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=book, args=(uid,)) for uid in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a booking hung"
    db.engine.dispose()
    assert errors == []
    assert counters(ids) == [1, 1, 1]
    for session_id in ids:
        seats = db.session.scalars(select(Seat).where(Seat.session_id == session_id)).all()
        assert sorted(s.status for s in seats) == ["confirmed", "waitlisted"]
    assert len(db.session.scalars(select(StandingBooking)).all()) == 2
