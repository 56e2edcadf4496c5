"""Reminders 24 h / 1 h / 10 min before start: planned in the database, sent by the sweep through a real worker
and a real SMTP server, once per person and kind."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.core.queue import enqueue
from portal.extensions import db
from portal.notifications import operations, sending
from portal.notifications.jobs import sweep_reminders
from portal.notifications.models import Notification

pytestmark = pytest.mark.usefixtures("mail_app")


@pytest.fixture
def sweep(run_jobs):
    def go():
        enqueue(sweep_reminders)
        return run_jobs()

    return go


def _subjects(sink):
    return sorted(f"{m['To'].addresses[0].addr_spec} | {m['Subject']}" for m in sink.messages)


def _rows(session):
    return {
        (r.user_id, r.kind): r
        for r in db.session.scalars(select(Notification).where(Notification.session_id == session.id))
    }


def test_each_reminder_goes_once_to_the_instructor_and_confirmed_seat_holders(
    make_session, make_user, make_seat, sweep, smtp_sink, clock
):
    session = make_session(start_in=timedelta(days=2))
    member, waiting = make_user("member"), make_user("member")
    make_seat(session, member)
    make_seat(session, waiting, status="waitlisted")
    operations.plan_reminders(session)
    db.session.commit()

    for lead, text in [
        (timedelta(hours=24), "24 hours"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(minutes=10), "10 minutes"),
    ]:
        clock.at(session.start_time - lead + timedelta(seconds=20))
        before = len(smtp_sink.messages)
        sweep()
        sweep()  # a second sweep (or a second scheduler) sends nothing more
        new = smtp_sink.messages[before:]
        assert sorted(m["To"].addresses[0].addr_spec for m in new) == sorted([session.instructor.email, member.email])
        assert all(text in m["Subject"] for m in new)

    clock.at(session.start_time + timedelta(minutes=1))
    sweep()
    assert len(smtp_sink.messages) == 6
    assert all(r.status == "sent" for r in _rows(session).values())
    assert waiting.id not in {uid for uid, _ in _rows(session)}


def test_session_created_three_hours_ahead_gets_no_late_24h_reminder(make_session, sweep, smtp_sink, clock):
    session = make_session(start_in=timedelta(hours=3))
    operations.plan_reminders(session)
    db.session.commit()
    assert _rows(session)[(session.instructor_id, "reminder_24h")].status == "skipped"
    sweep()
    assert smtp_sink.messages == []
    clock.at(session.start_time - timedelta(minutes=59))
    sweep()
    assert [m["Subject"] for m in smtp_sink.messages] == [f"Reminder: {session.title} starts in 1 hour"]


def test_sweep_plans_reminders_for_seats_taken_later(make_session, make_user, make_seat, sweep, smtp_sink, clock):
    session = make_session(start_in=timedelta(days=3))
    clock.shift(timedelta(days=1))
    member = make_user("member")
    make_seat(session, member)  # nobody called plan_reminders: the sweep finds the seat
    clock.at(session.start_time - timedelta(hours=24) + timedelta(seconds=5))
    sweep()
    assert sorted(m["To"].addresses[0].addr_spec for m in smtp_sink.messages) == sorted(
        [session.instructor.email, member.email]
    )


def test_after_an_outage_only_the_latest_due_reminder_is_sent(make_session, sweep, smtp_sink, clock):
    session = make_session(start_in=timedelta(days=2))
    operations.plan_reminders(session)
    db.session.commit()
    clock.at(session.start_time - timedelta(minutes=9))  # nobody ran between 24 h and now
    sweep()
    assert [m["Subject"] for m in smtp_sink.messages] == [f"Reminder: {session.title} starts in 10 minutes"]
    rows = _rows(session)
    assert rows[(session.instructor_id, "reminder_24h")].status == "skipped"
    assert rows[(session.instructor_id, "reminder_1h")].last_error == "a later reminder was already due"


def test_nothing_is_sent_after_the_session_started(make_session, sweep, smtp_sink, clock):
    session = make_session(start_in=timedelta(hours=2))
    operations.plan_reminders(session)
    db.session.commit()
    clock.at(session.start_time + timedelta(seconds=1))
    sweep()
    assert smtp_sink.messages == []
    assert {r.status for r in _rows(session).values()} == {"skipped"}


def test_a_member_who_gave_up_the_seat_gets_no_reminder(make_session, make_user, make_seat, sweep, smtp_sink, clock):
    session = make_session(start_in=timedelta(hours=5))
    member = make_user("member")
    seat = make_seat(session, member)
    operations.plan_reminders(session)
    seat.status = "canceled"
    db.session.commit()
    clock.at(session.start_time - timedelta(minutes=59))
    sweep()
    assert [m["To"].addresses[0].addr_spec for m in smtp_sink.messages] == [session.instructor.email]
    assert _rows(session)[(member.id, "reminder_1h")].last_error == "no longer holds a seat"


def test_smtp_down_reminder_is_retried_with_backoff_and_sent_once_when_it_is_back(
    make_session, sweep, smtp_sink, clock
):
    session = make_session(start_in=timedelta(hours=5))
    operations.plan_reminders(session)
    db.session.commit()
    clock.at(session.start_time - timedelta(minutes=59))
    smtp_sink.refuse(451, "Try again later")
    result = sweep()
    assert result.names("failed") == ["send_notification"]
    row = _rows(session)[(session.instructor_id, "reminder_1h")]
    assert (row.status, row.attempts) == ("pending", 1) and "451" in row.last_error

    smtp_sink.accept()
    sweep()  # still inside the backoff: not tried again yet
    assert smtp_sink.messages == []
    clock.shift(timedelta(minutes=1, seconds=1))
    sweep()
    sweep()
    assert len(smtp_sink.messages) == 1
    db.session.refresh(row)
    assert (row.status, row.attempts) == ("sent", 2)


def test_smtp_server_gone_reminder_is_sent_once_it_comes_back(make_session, sweep, smtp_sink, clock):
    session = make_session(start_in=timedelta(hours=5))
    operations.plan_reminders(session)
    db.session.commit()
    clock.at(session.start_time - timedelta(minutes=59))
    smtp_sink.stop()
    sweep()
    row = _rows(session)[(session.instructor_id, "reminder_1h")]
    assert row.status == "pending" and "Connection refused" in row.last_error
    smtp_sink.start()
    clock.shift(timedelta(minutes=2))
    sweep()
    assert len(smtp_sink.messages) == 1


def test_a_claim_left_by_a_dead_worker_is_recovered_and_sent_once(make_session, sweep, smtp_sink, clock):
    session = make_session(start_in=timedelta(hours=5))
    operations.plan_reminders(session)
    db.session.commit()
    clock.at(session.start_time - timedelta(minutes=59))
    row = _rows(session)[(session.instructor_id, "reminder_1h")]
    assert sending.claim(row.id)  # a worker claimed it ... and was killed before sending
    db.session.commit()
    sweep()
    assert smtp_sink.messages == []  # a fresh claim may still be at work: left alone
    clock.shift(timedelta(minutes=6))
    sweep()
    sweep()
    assert len(smtp_sink.messages) == 1
    db.session.refresh(row)
    assert row.status == "sent"


def test_a_claimed_row_is_not_sent_by_a_second_job(make_session, run_jobs, smtp_sink, clock):
    session = make_session(start_in=timedelta(hours=5))
    operations.plan_reminders(session)
    db.session.commit()
    clock.at(session.start_time - timedelta(minutes=59))
    row = _rows(session)[(session.instructor_id, "reminder_1h")]
    enqueue(sending.send_notification, row.id)
    enqueue(sending.send_notification, row.id)  # a duplicate job (another scheduler): the claim stops it
    run_jobs()
    assert len(smtp_sink.messages) == 1


def test_planning_many_sessions_at_once_covers_each_and_re_times_only_what_moved(
    make_session, make_user, make_seat, clock
):
    first, second = make_session(start_in=timedelta(days=2)), make_session(start_in=timedelta(days=3))
    member = make_user("member")
    make_seat(first, member)
    make_seat(second, member, status="waitlisted")  # not a recipient
    operations.plan_reminders_many([first, second])
    db.session.commit()
    kinds = {"reminder_24h", "reminder_1h", "reminder_10m"}
    assert set(_rows(first)) == {(u, k) for u in (first.instructor_id, member.id) for k in kinds}
    assert set(_rows(second)) == {(second.instructor_id, k) for k in kinds}

    untouched = {key: row.due_at for key, row in _rows(second).items()}
    first.set_schedule(first.start_time + timedelta(hours=5), 60)
    operations.plan_reminders_many([first, second])  # again: no duplicates, the moved session re-timed
    db.session.commit()
    assert all(row.due_at > first.start_time - timedelta(hours=25) for row in _rows(first).values())
    assert _rows(first)[(member.id, "reminder_1h")].due_at == first.start_time - timedelta(hours=1)
    assert {key: row.due_at for key, row in _rows(second).items()} == untouched
    assert db.session.query(Notification).count() == 9


def test_skipping_rows_records_each_rows_own_reason(make_session, make_user, make_seat, clock):
    session = make_session(start_in=timedelta(days=2))
    member = make_user("member")
    make_seat(session, member)
    operations.plan_reminders(session)
    db.session.commit()
    rows = _rows(session)
    a, b, c = rows[(member.id, "reminder_24h")], rows[(member.id, "reminder_1h")], rows[(member.id, "reminder_10m")]
    sending.skip({a.id: "first reason", b.id: "second reason", c.id: "first reason"})
    db.session.commit()
    db.session.expire_all()
    assert [(r.status, r.last_error) for r in (a, b, c)] == [
        ("skipped", "first reason"),
        ("skipped", "second reason"),
        ("skipped", "first reason"),
    ]
