"""Reminders 24 h / 1 h / 10 min before start: planned in the database, sent by the sweep through a real worker
and a real SMTP server, once per person and kind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from portal.core.clock import now_utc
from portal.core.queue import enqueue
from portal.extensions import db
from portal.notifications import operations, sending
from portal.notifications.jobs import sweep_reminders
from portal.notifications.models import Notification
from portal.notifications.rules import DueReminder, decide_due, reminder_kind, reminder_not_due, reminder_offset

pytestmark = pytest.mark.usefixtures("mail_app")


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
    assert result.names("failed") == ["send_batch"]
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


def test_a_send_job_that_failed_before_its_first_write_is_run_again_by_the_next_sweep(
    make_session, sweep, smtp_sink, clock, monkeypatch
):
    session = make_session(start_in=timedelta(hours=5))
    operations.plan_reminders(session)
    db.session.commit()
    clock.at(session.start_time - timedelta(minutes=59))
    real_claim, outage = sending.claim_many, {"failures": 1}

    def claim_during_a_database_outage(*args, **kwargs):
        if outage["failures"]:
            outage["failures"] -= 1
            raise OperationalError("UPDATE notifications ...", {}, ConnectionError("server closed the connection"))
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(sending, "claim_many", claim_during_a_database_outage)
    assert sweep().names("failed") == ["send_batch"]
    row = _rows(session)[(session.instructor_id, "reminder_1h")]
    assert (row.status, row.attempts) == ("pending", 0)  # the counter never moved: the next job has the same id
    assert smtp_sink.messages == []

    clock.shift(timedelta(minutes=1))
    sweep()  # the failed job's id does not refuse the next sweep's job
    sweep()
    assert [m["Subject"] for m in smtp_sink.messages] == [f"Reminder: {session.title} starts in 1 hour"]
    db.session.refresh(row)
    assert (row.status, row.attempts) == ("sent", 1)


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


# ------------------------------------------------------------------------------------------------ reschedules
def _reschedule(session, new_start):
    """Through the training operation (its signal re-times the reminders and tells seat holders), committed."""
    from portal.training.operations import update_session

    update_session(session, {"start_time": new_start.isoformat()}, actor=session.instructor)
    db.session.commit()


def _reminders_sent(sink, lead):
    return sorted(m["To"].addresses[0].addr_spec for m in sink.messages if m["Subject"].endswith(f"starts in {lead}"))


def test_a_queued_reminder_follows_a_reschedule_and_goes_out_once_at_the_new_time(
    make_session, make_user, make_seat, run_jobs, queued_job_ids, sweep, smtp_sink, clock
):
    session = make_session(start_in=timedelta(hours=5))
    member = make_user("member")
    make_seat(session, member)
    operations.plan_reminders(session)
    db.session.commit()
    old_start = session.start_time
    clock.at(old_start - timedelta(minutes=59))
    assert sweep_reminders()["enqueued"] == 2  # the 1 h reminders are queued; no worker has taken them yet
    assert len(queued_job_ids()) == 1  # in one batch

    new_start = old_start + timedelta(hours=24)
    _reschedule(session, new_start)
    result = run_jobs()
    assert sorted(job.return_value() for job in result.finished if job.id.startswith("send-")) == [
        "1 sent",  # the member's "New time" notice
        "2 not due now",  # the queued reminders: re-checked right before their claim
    ]
    assert [m["Subject"] for m in smtp_sink.messages] == [f"New time: {session.title}"]
    rows = _rows(session)
    assert rows[(member.id, "reminder_1h")].status == "pending"
    assert rows[(member.id, "reminder_1h")].due_at == new_start - timedelta(hours=1)

    everyone = sorted([session.instructor.email, member.email])
    clock.at(new_start - timedelta(minutes=59, seconds=40))
    sweep()
    sweep()  # a second sweep sends nothing more
    assert _reminders_sent(smtp_sink, "1 hour") == everyone
    assert _reminders_sent(smtp_sink, "24 hours") == []  # its new moment had come too, but the 1 h one is later
    clock.at(new_start - timedelta(minutes=9))
    sweep()
    assert _reminders_sent(smtp_sink, "1 hour") == everyone
    assert _reminders_sent(smtp_sink, "10 minutes") == everyone


def test_a_reminder_sent_for_the_old_time_is_due_again_for_the_new_time(
    make_session, make_user, make_seat, run_jobs, sweep, smtp_sink, clock
):
    session = make_session(start_in=timedelta(hours=5))
    member = make_user("member")
    make_seat(session, member)
    operations.plan_reminders(session)
    db.session.commit()
    old_start = session.start_time
    clock.at(old_start - timedelta(minutes=59))
    sweep()
    first = {m["Message-ID"] for m in smtp_sink.messages}
    assert _reminders_sent(smtp_sink, "1 hour") == sorted([session.instructor.email, member.email])

    new_start = old_start + timedelta(days=2)
    _reschedule(session, new_start)
    run_jobs()
    row = _rows(session)[(member.id, "reminder_1h")]
    assert (row.status, row.due_at, row.sent_at) == ("pending", new_start - timedelta(hours=1), None)
    sweep()
    assert len(_reminders_sent(smtp_sink, "1 hour")) == 2  # not again before its new moment

    clock.at(new_start - timedelta(minutes=59))
    sweep()
    sweep()
    assert _reminders_sent(smtp_sink, "1 hour") == sorted([session.instructor.email, member.email] * 2)
    assert {m["Message-ID"] for m in smtp_sink.messages[-2:]}.isdisjoint(
        first
    )  # a new message: clients must not fold it away
    db.session.refresh(row)
    assert row.status == "sent"


def test_a_reminder_sent_whose_new_moment_has_passed_stays_sent(make_session, sweep, smtp_sink, clock):
    session = make_session(start_in=timedelta(hours=5))
    operations.plan_reminders(session)
    db.session.commit()
    clock.at(session.start_time - timedelta(minutes=59))
    sweep()
    _reschedule(session, now_utc() + timedelta(minutes=30))  # earlier: the new 1 h moment is already past
    sweep()
    rows = {kind: row for (_, kind), row in _rows(session).items()}
    assert (rows["reminder_1h"].status, rows["reminder_1h"].due_at) == ("sent", session.start_time - timedelta(hours=1))
    assert rows["reminder_10m"].status == "pending"
    assert len(smtp_sink.messages) == 1  # no late second "1 hour" reminder
    clock.at(session.start_time - timedelta(minutes=9))
    sweep()
    assert [m["Subject"] for m in smtp_sink.messages][1:] == [f"Reminder: {session.title} starts in 10 minutes"]


def test_a_row_re_timed_after_the_senders_checks_is_not_claimed(make_session, clock):
    session = make_session(start_in=timedelta(hours=5))
    operations.plan_reminders(session)
    db.session.commit()
    row = _rows(session)[(session.instructor_id, "reminder_1h")]
    checked_due_at = row.due_at  # what the send job checked ...
    session.set_schedule(session.start_time + timedelta(hours=3), 60)
    operations.notify_rescheduled(session, session.start_time - timedelta(hours=3))
    db.session.commit()  # ... before a reschedule committed
    assert sending.claim(row.id, due_at=checked_due_at) is False
    assert sending.claim(row.id, due_at=row.due_at) is True
    db.session.rollback()


def test_a_reminder_still_at_an_older_start_times_moment_is_neither_sent_nor_skipped_but_re_timed(
    make_session, sweep, smtp_sink, clock
):
    session = make_session(start_in=timedelta(hours=5))
    operations.plan_reminders(session)
    db.session.commit()
    session.set_schedule(session.start_time + timedelta(days=3), 60)  # moved without its signal (e.g. by hand)
    db.session.commit()
    clock.at(session.start_time - timedelta(days=3, minutes=59))  # the old 1 h moment
    sweep()
    assert smtp_sink.messages == []
    row = _rows(session)[(session.instructor_id, "reminder_1h")]
    assert (row.status, row.due_at) == ("pending", session.start_time - timedelta(hours=1))


def test_reminder_rules_know_the_moment_of_each_kind():
    for offset in (timedelta(hours=24), timedelta(hours=1), timedelta(minutes=10), timedelta(seconds=90)):
        assert reminder_offset(reminder_kind(offset)) == offset
    start, now = datetime(2026, 12, 5, 18, 0, tzinfo=UTC), datetime(2026, 12, 5, 17, 0, 30, tzinfo=UTC)
    assert reminder_not_due("reminder_1h", start - timedelta(hours=1), start_time=start, now=now) is None
    later = start + timedelta(hours=1)
    assert reminder_not_due("reminder_1h", start, start_time=later, now=now) == "its moment is still ahead"
    old_moment = start - timedelta(hours=1)
    assert reminder_not_due("reminder_1h", old_moment, start_time=later, now=now).startswith("planned for another")
    assert reminder_not_due("reminder_10m", start - timedelta(minutes=10), start_time=start, now=now) is not None
    old = DueReminder(1, "reminder_1h", start - timedelta(hours=25))  # planned for a start 24 h earlier
    current = DueReminder(2, "reminder_24h", start - timedelta(hours=24))
    decision = decide_due([old, current], now=now, start_time=start, session_status="scheduled", is_recipient=True)
    assert (decision.send, decision.skip, decision.stale) == ([2], {}, [1])
