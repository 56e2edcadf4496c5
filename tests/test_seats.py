"""Seats and the waitlist: reserve, cancel, promotion in order, and the atomic seat claim under concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.core.clock import now_utc
from portal.core.errors import Conflict, Forbidden
from portal.extensions import db
from portal.notifications.models import Notification
from portal.seats import operations
from portal.seats.models import Seat, SeatStatus
from portal.training.models import TrainingSession


def bulk_users(count: int, role: str = "member") -> list[int]:
    """Many users fast (no password hashing: these never sign in)."""
    stamp = now_utc().timestamp()
    users = [
        User(
            email=f"racer{i}-{stamp}@example.org",
            name=f"Racer {i}",
            role=role,
            timezone="UTC",
            is_active=True,
            password_hash="unusable",
        )
        for i in range(count)
    ]
    db.session.add_all(users)
    db.session.commit()
    return [u.id for u in users]


def seat_statuses(session) -> dict[int, str]:
    return dict(db.session.execute(select(Seat.user_id, Seat.status).where(Seat.session_id == session.id)).all())


def stored_counter(session) -> int:
    db.session.expire_all()
    return db.session.get(TrainingSession, session.id).seats_taken


def confirmed_count(session) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Seat)
        .where(Seat.session_id == session.id, Seat.status == SeatStatus.CONFIRMED.value)
    )


# ------------------------------------------------------------------------------------------------ reserve
def test_reserving_takes_a_seat_and_counts_it(make_session, make_user):
    session = make_session(capacity=3)
    member = make_user("member")
    seat = operations.reserve(session, member)
    db.session.commit()
    assert seat.status == "confirmed" and seat.confirmed_at is not None
    assert stored_counter(session) == 1


def test_reserving_twice_keeps_one_seat(make_session, make_user):
    session = make_session(capacity=3)
    member = make_user("member")
    first = operations.reserve(session, member)
    second = operations.reserve(session, member)
    db.session.commit()
    assert first.id == second.id
    assert stored_counter(session) == 1


def test_a_full_session_puts_the_next_member_on_the_waitlist(make_session, make_user):
    session = make_session(capacity=1)
    operations.reserve(session, make_user("member"))
    late = operations.reserve(session, make_user("member"))
    db.session.commit()
    assert late.status == "waitlisted" and late.waitlisted_at is not None
    assert stored_counter(session) == 1


def test_reserving_without_waitlist_on_a_full_session_is_refused_and_stores_nothing(make_session, make_user):
    session = make_session(capacity=1)
    operations.reserve(session, make_user("member"))
    db.session.commit()
    late = make_user("member")
    with pytest.raises(Conflict) as exc:
        operations.reserve(session, late, waitlist=False)
    assert exc.value.code == "full"
    db.session.rollback()
    assert late.id not in seat_statuses(session)


def test_unlimited_sessions_count_seats_without_a_limit(make_session, make_user):
    session = make_session(capacity=None)
    for _ in range(3):
        assert operations.reserve(session, make_user("member")).status == "confirmed"
    db.session.commit()
    assert stored_counter(session) == 3


def test_the_instructor_and_public_users_cannot_reserve(make_session, make_user):
    instructor = make_user("instructor")
    session = make_session(instructor=instructor, capacity=5, is_public=True, members_only=False)
    with pytest.raises(Conflict) as exc:
        operations.reserve(session, instructor)
    assert exc.value.code == "seat_not_needed"
    with pytest.raises(Forbidden):
        operations.reserve(session, make_user("public"))


def test_a_public_user_reserving_in_a_members_only_session_hears_what_joining_says(make_session, make_user):
    session = make_session(capacity=5, is_public=True, members_only=True)
    with pytest.raises(Forbidden) as exc:
        operations.reserve(session, make_user("public"))
    assert (exc.value.code, exc.value.message) == ("members_only", "This session is for members only.")


@pytest.mark.parametrize("status", ["canceled", "ended"])
def test_final_sessions_take_no_reservations(make_session, make_user, status):
    session = make_session(capacity=5, status=status)
    with pytest.raises(Conflict) as exc:
        operations.reserve(session, make_user("member"))
    assert exc.value.code == status


def test_a_confirmed_seat_plans_reminders_for_its_holder(make_session, make_user):
    session = make_session(start_in=timedelta(days=3), capacity=5)
    member = make_user("member")
    operations.reserve(session, member)
    db.session.commit()
    keys = db.session.scalars(select(Notification.user_id).where(Notification.session_id == session.id)).all()
    assert member.id in keys


# ------------------------------------------------------------------------------------------------ cancel & promote
def test_canceling_a_seat_promotes_the_first_on_the_waitlist(make_session, make_user):
    session = make_session(capacity=1)
    holder, first, second = make_user("member"), make_user("member"), make_user("member")
    operations.reserve(session, holder)
    operations.reserve(session, first)
    operations.reserve(session, second)
    db.session.commit()
    operations.cancel_seat(session, holder)
    db.session.commit()
    assert seat_statuses(session) == {holder.id: "canceled", first.id: "confirmed", second.id: "waitlisted"}
    assert stored_counter(session) == 1


def test_promotion_order_is_waitlisted_at_then_id(make_session, make_user):
    session = make_session(capacity=1)
    holder = make_user("member")
    operations.reserve(session, holder)
    users = [make_user("member") for _ in range(3)]
    same_moment = now_utc()
    later = same_moment + timedelta(seconds=5)
    for user, at in zip(users, [later, same_moment, same_moment], strict=True):
        db.session.add(Seat(session_id=session.id, user_id=user.id, status="waitlisted", waitlisted_at=at))
    db.session.commit()
    order = []
    for _ in range(3):
        current = next(uid for uid, status in seat_statuses(session).items() if status == "confirmed")
        operations.cancel_seat(session, db.session.get(User, current))
        db.session.commit()
        order.append(next(uid for uid, status in seat_statuses(session).items() if status == "confirmed"))
    assert order == [users[1].id, users[2].id, users[0].id]


def test_promotion_tells_the_promoted_member(make_session, make_user):
    session = make_session(capacity=1, start_in=timedelta(days=2))
    holder, waiting = make_user("member"), make_user("member")
    operations.reserve(session, holder)
    operations.reserve(session, waiting)
    db.session.commit()
    operations.cancel_seat(session, holder)
    db.session.commit()
    kinds = db.session.scalars(select(Notification.kind).where(Notification.user_id == waiting.id)).all()
    assert "promoted" in kinds


def test_leaving_the_waitlist_frees_no_seat(make_session, make_user):
    session = make_session(capacity=1)
    holder, waiting = make_user("member"), make_user("member")
    operations.reserve(session, holder)
    operations.reserve(session, waiting)
    operations.cancel_seat(session, waiting)
    db.session.commit()
    assert seat_statuses(session) == {holder.id: "confirmed", waiting.id: "canceled"}
    assert stored_counter(session) == 1


def test_canceling_without_a_seat_is_refused(make_session, make_user):
    session = make_session(capacity=1)
    with pytest.raises(Conflict) as exc:
        operations.cancel_seat(session, make_user("member"))
    assert exc.value.code == "no_seat"


@pytest.mark.parametrize("status", ["canceled", "ended"])
def test_seats_of_a_final_session_can_no_longer_be_given_up(make_session, make_user, make_seat, status):
    session = make_session(capacity=2)
    member = make_user("member")
    make_seat(session, member)
    session.status = status
    db.session.commit()
    with pytest.raises(Conflict) as exc:
        operations.cancel_seat(session, member)
    assert (exc.value.status, exc.value.code) == (409, "wrong_state")
    assert exc.value.message == f"This session is {status}; its seats can no longer change."


def test_a_canceled_seat_can_be_reserved_again(make_session, make_user):
    session = make_session(capacity=2)
    member = make_user("member")
    operations.reserve(session, member)
    operations.cancel_seat(session, member)
    again = operations.reserve(session, member)
    db.session.commit()
    assert again.status == "confirmed" and stored_counter(session) == 1


def test_release_all_frees_every_seat_of_a_canceled_session(make_session, make_user):
    session = make_session(capacity=2)
    a, b, c = make_user("member"), make_user("member"), make_user("member")
    for user in (a, b, c):
        operations.reserve(session, user)
    db.session.commit()
    released = operations.release_all(session)
    db.session.commit()
    assert {s.user_id for s in released} == {a.id, b.id, c.id}
    assert set(seat_statuses(session).values()) == {"canceled"}
    assert stored_counter(session) == 0


# ------------------------------------------------------------------------------------------------ concurrency
def _race(app, session_id: int, user_ids: list[int], action) -> tuple[list, list]:
    """Run `action(session, user)` for every user id at once, each thread with its own app context, DB session
    and connection; commit each. Returns (results, errors)."""
    results, errors = [], []
    barrier = threading.Barrier(len(user_ids))

    def run(user_id: int) -> None:
        barrier.wait()
        with app.app_context():
            try:
                session = db.session.get(TrainingSession, session_id)
                user = db.session.get(User, user_id)
                results.append(action(session, user))
                db.session.commit()
            except Exception as exc:  # every failure is reported by the test
                db.session.rollback()
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(uid,)) for uid in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a claim hung"
    db.engine.dispose()  # close the pool the threads filled, rather than leave it to the garbage collector
    return results, errors


def test_200_concurrent_claims_for_5_free_seats_take_exactly_5(app, make_session):
    session = make_session(capacity=5)
    user_ids = bulk_users(200)
    results, errors = _race(app, session.id, user_ids, lambda s, u: (u.id, operations.claim_seat(s, u) is not None))
    assert errors == []
    winners = {uid for uid, won in results if won}
    assert len(results) == 200 and len(winners) == 5
    assert stored_counter(session) == 5
    assert confirmed_count(session) == 5
    assert {uid for uid, status in seat_statuses(session).items() if status == "confirmed"} == winners


def test_a_double_click_storm_by_one_member_takes_one_seat(app, make_session):
    session = make_session(capacity=5)
    (member_id,) = bulk_users(1)
    results, errors = _race(app, session.id, [member_id] * 20, lambda s, u: operations.claim_seat(s, u) is not None)
    assert errors == [] and all(results)
    assert stored_counter(session) == 1
    assert confirmed_count(session) == 1


def test_concurrent_reservations_fill_the_seats_and_queue_the_rest(app, make_session):
    session = make_session(capacity=3, start_in=timedelta(days=2))
    user_ids = bulk_users(30)
    results, errors = _race(app, session.id, user_ids, lambda s, u: operations.reserve(s, u).status)
    assert errors == []
    assert sorted(results).count("confirmed") == 3 and results.count("waitlisted") == 27
    assert stored_counter(session) == 3


def test_canceling_the_session_releases_its_seats_and_takes_no_new_ones(make_session, make_user):
    from portal.training.operations import cancel_session

    instructor = make_user("instructor")
    session = make_session(instructor=instructor, capacity=2)
    holders = [make_user("member") for _ in range(3)]
    for user in holders:
        operations.reserve(session, user)
    db.session.commit()
    cancel_session(session, actor=instructor)
    db.session.commit()
    assert set(seat_statuses(session).values()) == {"canceled"}
    assert stored_counter(session) == 0
    with pytest.raises(Conflict) as exc:
        operations.reserve(db.session.get(TrainingSession, session.id), make_user("member"))
    assert exc.value.code == "canceled"
