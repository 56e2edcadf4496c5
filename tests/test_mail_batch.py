"""Mail in batches (issue 13) and reminders on their moment (issue 16): one send job sends many rows over one SMTP
connection with each row's claim kept; mail waits behind the portal's other jobs; planning schedules each
reminder's moment (the minute sweep only plans what nobody planned); a message accepted during a database outage
is recorded, not sent again. Real SQLite/PostgreSQL, real Redis, a real worker (burst) and a real SMTP server."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from datetime import timedelta

import pytest
from rq.registry import ScheduledJobRegistry
from sqlalchemy import event, select, update
from sqlalchemy.exc import OperationalError

from portal.core.clock import now_utc
from portal.core.queue import MAIL_QUEUE, QUEUE_NAME, WORKER_QUEUES, enqueue, get_queue, get_redis
from portal.extensions import db
from portal.notifications import mailer, operations, queries, sending
from portal.notifications.jobs import sweep_reminders
from portal.notifications.models import Notification
from portal.seats.models import Seat
from tests.plugins.mail import SmtpSink

LONG_AGO = timedelta(days=3)


class CountingSink(SmtpSink):
    """The SMTP sink that also notes the client connection of each message."""

    def __init__(self) -> None:
        super().__init__()
        self.peers: list[tuple[str, int]] = []

    async def handle_DATA(self, server, session, envelope):
        self.peers.append(session.peer)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def sink(app):
    sink = CountingSink()
    sink.start()
    original = app.extensions["portal.settings"]
    app.extensions["portal.settings"] = dataclasses.replace(original, **sink.settings)
    yield sink
    app.extensions["portal.settings"] = original
    sink.stop()


def _booked_session(make_session, make_user, members: int, start_in: timedelta):
    session = make_session(start_in=start_in, created_at=now_utc() - LONG_AGO)
    people = [make_user("member") for _ in range(members)]
    for person in people:
        db.session.add(
            Seat(session_id=session.id, user_id=person.id, status="confirmed", confirmed_at=now_utc() - LONG_AGO)
        )
    session.seats_taken = members
    db.session.commit()
    return session, people


def _rows(kind: str) -> list[Notification]:
    db.session.expire_all()
    return list(db.session.scalars(select(Notification).where(Notification.kind == kind)).all())


def _note(name: str) -> None:
    get_redis().rpush("test.mail.order", name)


# ------------------------------------------------------------------------------------------------ batches
def test_a_batch_goes_over_one_smtp_connection_with_each_row_claimed_and_sent_once(
    make_session, make_user, run_jobs, sink, clock
):
    session, people = _booked_session(make_session, make_user, 30, timedelta(hours=5))
    operations.plan_reminders(session)
    db.session.commit()
    clock.at(session.start_time - timedelta(minutes=59))
    enqueue(sweep_reminders)
    result = run_jobs()

    assert result.names().count("send_batch") == 1  # 31 rows, one job
    assert sorted(m["To"].addresses[0].addr_spec for m in sink.messages) == sorted(
        [session.instructor.email, *(p.email for p in people)]
    )
    assert len(set(sink.peers)) == 1  # one SMTP connection for the whole batch
    sent = _rows("reminder_1h")
    assert len(sent) == 31 and all((r.status, r.attempts) == ("sent", 1) for r in sent)
    assert len({m["Message-ID"] for m in sink.messages}) == 31
    assert get_redis().keys("portal.notification.accepted.*") == []  # recorded: the marks are gone

    enqueue(sweep_reminders)  # and again: nothing more
    run_jobs()
    assert len(sink.messages) == 31


def test_batches_racing_over_the_same_rows_send_each_once(make_session, make_user, run_jobs, sink, clock):
    session, _ = _booked_session(make_session, make_user, 4, timedelta(hours=5))
    operations.plan_reminders(session)
    db.session.commit()
    clock.at(session.start_time - timedelta(minutes=59))
    rows = sorted(_rows("reminder_1h"), key=lambda r: r.id)
    assert sending.claim_many(rows[1:3]) == {rows[1].id, rows[2].id}
    assert sending.claim_many(rows) == {rows[0].id, rows[3].id, rows[4].id}  # each row won once
    db.session.rollback()
    sending.enqueue_send_many(rows)
    sending.enqueue_send_many(rows[::-1])  # another dispatcher, another batch of the same rows
    enqueue(sweep_reminders)  # and the sweep's
    run_jobs()
    assert len(sink.messages) == 5
    assert all((r.status, r.attempts) == ("sent", 1) for r in _rows("reminder_1h"))


def test_a_refusing_server_stops_the_batch_the_failed_row_waits_its_backoff_the_others_are_untouched(
    make_session, make_user, run_jobs, sink, clock
):
    session, _ = _booked_session(make_session, make_user, 5, timedelta(hours=5))
    operations.plan_reminders(session)
    db.session.commit()
    clock.at(session.start_time - timedelta(minutes=59))
    sink.refuse(451, "Try again later")
    enqueue(sweep_reminders)
    assert run_jobs().names("failed") == ["send_batch"]
    rows = _rows("reminder_1h")
    assert sorted((r.status, r.attempts) for r in rows) == [("pending", 0)] * 5 + [("pending", 1)]
    retry_at = max(r.claimed_at for r in rows if r.attempts) + timedelta(seconds=15)
    scheduled = ScheduledJobRegistry(queue=get_queue(QUEUE_NAME)).get_job_ids()
    assert sending.dispatch_job_id(retry_at) in scheduled  # the retry is on time, not at the next sweep

    sink.accept()
    clock.at(retry_at + timedelta(seconds=1))
    run_jobs()  # the scheduled dispatch, no sweep
    assert len(sink.messages) == 6
    assert sorted(r.attempts for r in _rows("reminder_1h")) == [1] * 5 + [2]


# ------------------------------------------------------------------------------------------------ queues by priority
def test_mail_waits_behind_the_portals_other_jobs(run_jobs):
    assert WORKER_QUEUES == (QUEUE_NAME, MAIL_QUEUE)
    get_redis().delete("test.mail.order")
    for i in range(3):
        enqueue(_note, f"mail {i}", queue_name=MAIL_QUEUE)
    enqueue(_note, "room", queue_name=QUEUE_NAME)  # enqueued last, taken first
    run_jobs()
    assert [x.decode() for x in get_redis().lrange("test.mail.order", 0, -1)] == ["room", "mail 0", "mail 1", "mail 2"]


# ------------------------------------------------------------------------------------------------ on the moment
def test_planning_schedules_each_reminder_for_its_moment_and_it_goes_out_then_without_a_sweep(
    make_session, make_user, run_jobs, sink, clock
):
    session, _ = _booked_session(make_session, make_user, 2, timedelta(hours=5))
    operations.plan_reminders(session)
    db.session.commit()
    scheduled = set(ScheduledJobRegistry(queue=get_queue(QUEUE_NAME)).get_job_ids())
    due_1h = session.start_time - timedelta(hours=1)
    due_10m = session.start_time - timedelta(minutes=10)
    assert {sending.dispatch_job_id(due_1h), sending.dispatch_job_id(due_10m)} <= scheduled
    operations.plan_reminders(session)  # planned again (another seat taken): no second job per moment
    db.session.commit()
    assert len(ScheduledJobRegistry(queue=get_queue(QUEUE_NAME)).get_job_ids()) == len(scheduled)

    clock.at(due_1h - timedelta(seconds=1))
    run_jobs()
    assert sink.messages == []
    clock.at(due_1h)
    run_jobs()  # the worker's scheduler moves the moment's dispatch to the queue: no minute sweep involved
    assert len(sink.messages) == 3 and all("starts in 1 hour" in m["Subject"] for m in sink.messages)


def test_a_reschedule_schedules_the_new_moment_and_the_old_moment_sends_nothing(
    make_session, make_user, run_jobs, sink, clock
):
    session, _ = _booked_session(make_session, make_user, 1, timedelta(hours=5))
    operations.plan_reminders(session)
    db.session.commit()
    old_due = session.start_time - timedelta(hours=1)
    new_start = session.start_time + timedelta(hours=3, minutes=7)
    session.set_schedule(new_start, 60)
    operations.notify_rescheduled(session, new_start - timedelta(hours=3, minutes=7))
    db.session.commit()
    new_due = new_start - timedelta(hours=1)
    assert sending.dispatch_job_id(new_due) in ScheduledJobRegistry(queue=get_queue(QUEUE_NAME)).get_job_ids()
    run_jobs()  # the "New time" notice
    assert [m["Subject"] for m in sink.messages] == [f"New time: {session.title}"]

    clock.at(old_due + timedelta(seconds=1))
    run_jobs()
    assert len(sink.messages) == 1  # the old moment's dispatch finds nothing due
    clock.at(new_due)
    run_jobs()
    assert sum("starts in 1 hour" in m["Subject"] for m in sink.messages) == 2


def test_the_sweep_plans_only_sessions_with_a_recipient_missing_rows_and_inserts_nothing_otherwise(
    make_session, make_user, run_jobs, sink, clock
):
    planned, _ = _booked_session(make_session, make_user, 3, timedelta(hours=5))
    operations.plan_reminders(planned)
    db.session.commit()
    unplanned, _ = _booked_session(make_session, make_user, 2, timedelta(hours=6))  # stored without planning
    kinds, channels = ["reminder_24h", "reminder_1h", "reminder_10m"], ["email"]
    horizon = timedelta(hours=25)
    assert [s.id for s in queries.sessions_needing_plan(now_utc(), horizon, channels, kinds)] == [unplanned.id]

    sweep_reminders()
    assert queries.sessions_needing_plan(now_utc(), horizon, channels, kinds) == []
    late = make_user("member")  # a seat written without the signal that plans it
    db.session.add(Seat(session_id=planned.id, user_id=late.id, status="confirmed", confirmed_at=now_utc()))
    db.session.commit()
    assert [s.id for s in queries.sessions_needing_plan(now_utc(), horizon, channels, kinds)] == [planned.id]
    sweep_reminders()

    inserts: list[str] = []

    def note(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("INSERT INTO NOTIFICATIONS"):
            inserts.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        assert sweep_reminders()["planned_sessions"] == 0  # the steady minute: nothing re-inserted
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert inserts == []
    assert {r.user_id for r in _rows("reminder_1h") if r.session_id == planned.id} >= {late.id}


# ------------------------------------------------------------------------------------------------ issue 16 item 6
def test_a_message_accepted_during_a_short_database_outage_is_recorded_once_the_database_is_back(
    make_session, run_jobs, sink, clock, monkeypatch
):
    session = make_session(start_in=timedelta(hours=5), created_at=now_utc() - LONG_AGO)
    operations.plan_reminders(session)
    db.session.commit()
    clock.at(session.start_time - timedelta(minutes=59))
    real_mark_sent, outage = sending.mark_sent, {"failures": 3}

    def mark_sent_during_an_outage(ids):
        if outage["failures"]:
            outage["failures"] -= 1
            raise OperationalError("UPDATE notifications ...", {}, ConnectionError("server closed the connection"))
        return real_mark_sent(ids)

    monkeypatch.setattr(sending, "mark_sent", mark_sent_during_an_outage)
    enqueue(sweep_reminders)
    run_jobs()
    [row] = _rows("reminder_1h")
    assert (row.status, row.attempts, len(sink.messages)) == ("sent", 1, 1)


def test_a_message_accepted_during_a_long_database_outage_is_not_sent_again_by_the_recovery(
    make_session, run_jobs, sink, clock, monkeypatch
):
    session = make_session(start_in=timedelta(hours=5), created_at=now_utc() - LONG_AGO)
    operations.plan_reminders(session)
    db.session.commit()
    clock.at(session.start_time - timedelta(minutes=59))

    def database_down(ids):
        raise OperationalError("UPDATE notifications ...", {}, ConnectionError("server closed the connection"))

    monkeypatch.setattr(sending, "RECORD_SENT_FOR", 0.5)
    monkeypatch.setattr(sending, "mark_sent", database_down)
    enqueue(sweep_reminders)
    assert run_jobs().names("failed") == ["send_batch"]
    [row] = _rows("reminder_1h")
    assert (row.status, len(sink.messages)) == ("sending", 1)  # out, but not recorded
    monkeypatch.undo()

    clock.shift(timedelta(minutes=6))  # the claim is stale: the recovery finds the worker's mark
    enqueue(sweep_reminders)
    run_jobs()
    enqueue(sweep_reminders)
    run_jobs()
    [row] = _rows("reminder_1h")
    assert (row.status, row.attempts, len(sink.messages)) == ("sent", 1, 1)


def test_a_claim_without_a_mark_is_sent_again_once(make_session, run_jobs, sink, clock):
    session = make_session(start_in=timedelta(hours=5), created_at=now_utc() - LONG_AGO)
    operations.plan_reminders(session)
    db.session.commit()
    clock.at(session.start_time - timedelta(minutes=59))
    [row] = _rows("reminder_1h")
    db.session.execute(update(Notification).where(Notification.id == row.id).values(status="pending"))
    assert sending.claim(row.id)  # a worker killed before its channel accepted anything: no mark
    db.session.commit()
    clock.shift(timedelta(minutes=6))
    enqueue(sweep_reminders)
    run_jobs()
    enqueue(sweep_reminders)
    run_jobs()
    [row] = _rows("reminder_1h")
    assert (row.status, row.attempts, len(sink.messages)) == ("sent", 2, 1)


# ------------------------------------------------------------------------------------------------ the fast writer
@pytest.mark.parametrize("char", ["\r\n", "\u2028", "\x00", "\x1c", ""])
def test_the_fast_writer_says_what_the_email_package_says(app, char):
    settings = dataclasses.replace(app.extensions["portal.settings"], MAIL_FROM="Portal <portal@example.org>")
    mail = mailer.Mail(
        to="=?utf-8?q?=C3=85sa_L=C3=B6v?= <asa@example.org>",
        subject=f"Réminder: Judo{char} basics — a long title that goes on and on, past one line of a header",
        text=f"Hello Åsa{char}\nline two\n.\n",
        html=f"<p>Hello Åsa{char}</p>",
        message_key="notification-7-20261201T100000Z",
        attachments=(
            mailer.Attachment(
                "session.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "text", "calendar", {"method": "PUBLISH"}
            ),
        ),
        headers=(("List-Unsubscribe", "<https://portal.test/unsubscribe/" + "t" * 120 + ">"),),
    )
    fast = mailer.render(mail, settings)
    assert isinstance(fast, mailer.Rendered)
    assert fast.sender == "portal@example.org" and fast.recipients == ("asa@example.org",)
    assert all(len(line) <= 998 for line in fast.data.split(b"\r\n")) and b"\n" not in fast.data.replace(b"\r\n", b"")
    ours = email.message_from_bytes(fast.data, policy=email.policy.default)
    theirs = email.message_from_bytes(bytes(mailer.build_message(mail, settings)), policy=email.policy.default)
    for name in ("From", "To", "Subject", "Message-ID", "List-Unsubscribe"):
        assert str(ours[name]) == str(theirs[name]), name
    for part in (("plain",), ("html",)):
        assert ours.get_body(part).get_content().rstrip() == theirs.get_body(part).get_content().rstrip()
    [a], [b] = list(ours.iter_attachments()), list(theirs.iter_attachments())
    assert (a.get_filename(), a.get_content_type(), a.get_param("method"), a.get_content()) == (
        b.get_filename(),
        b.get_content_type(),
        b.get_param("method"),
        b.get_content(),
    )
