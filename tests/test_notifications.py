"""Notices: reschedule and cancel tell seat holders, promotion tells the promoted member; the emails say the time
in the recipient's zone, link to the session page (never a token) and carry the .ics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from portal.core.clock import now_utc
from portal.core.queue import enqueue
from portal.extensions import db
from portal.notifications import operations
from portal.notifications.jobs import sweep_reminders
from portal.notifications.models import Notification
from portal.seats.models import Seat
from portal.training.links import session_url


def _to(messages):
    return sorted(m["To"].addresses[0].addr_spec for m in messages)


@pytest.mark.usefixtures("mail_app")
def test_reschedule_tells_seat_holders_and_re_times_unsent_reminders(
    make_session, make_user, make_seat, run_jobs, smtp_sink, clock
):
    session = make_session(start_time=datetime(2026, 12, 5, 18, 0, tzinfo=UTC))
    member, waiting = make_user("member", timezone="Europe/Berlin"), make_user("member")
    make_seat(session, member)
    make_seat(session, waiting, status="waitlisted")
    operations.plan_reminders(session)
    db.session.commit()

    old = session.start_time
    session.set_schedule(datetime(2026, 12, 8, 18, 0, tzinfo=UTC), 60)
    operations.notify_rescheduled(session, old)
    db.session.commit()  # the notices are pushed to the queue after the commit
    run_jobs()
    assert _to(smtp_sink.messages) == sorted([member.email, waiting.email])
    berlin = next(m for m in smtp_sink.messages if m["To"].addresses[0].addr_spec == member.email)
    text = berlin.get_body(("plain",)).get_content()
    assert "Sat 05 Dec 2026, 19:00 CET" in text and "Tue 08 Dec 2026, 19:00 CET (Europe/Berlin)" in text

    reminders = db.session.scalars(
        select(Notification).where(Notification.kind == "reminder_24h", Notification.user_id == member.id)
    ).all()
    assert [r.due_at for r in reminders] == [datetime(2026, 12, 7, 18, 0, tzinfo=UTC)]
    clock.at(datetime(2026, 12, 4, 18, 0, 30, tzinfo=UTC))  # the old 24 h moment: nothing goes out
    enqueue(sweep_reminders)
    run_jobs()
    assert len(smtp_sink.messages) == 2


@pytest.mark.usefixtures("mail_app")
def test_reschedule_into_the_next_hour_sends_no_late_reminders(make_session, run_jobs, smtp_sink, clock):
    session = make_session(start_in=timedelta(days=3))
    operations.plan_reminders(session)
    db.session.commit()
    old = session.start_time
    session.set_schedule(now_utc() + timedelta(minutes=30), 60)
    operations.notify_rescheduled(session, old)
    db.session.commit()
    enqueue(sweep_reminders)
    run_jobs()
    assert smtp_sink.messages == []  # the instructor holds no seat: no notice; 24 h and 1 h are past: skipped
    rows = {r.kind: r.status for r in db.session.scalars(select(Notification))}
    assert rows == {"reminder_24h": "skipped", "reminder_1h": "skipped", "reminder_10m": "pending"}


@pytest.mark.usefixtures("mail_app")
def test_cancel_tells_seat_holders_and_drops_their_reminders(
    make_session, make_user, make_seat, run_jobs, smtp_sink, clock
):
    session = make_session(start_in=timedelta(hours=5))
    member = make_user("member")
    seat = make_seat(session, member)
    operations.plan_reminders(session)
    session.status = "canceled"
    operations.notify_canceled(session, [seat])
    db.session.commit()
    run_jobs()
    assert _to(smtp_sink.messages) == [member.email]
    message = smtp_sink.messages[0]
    assert message["Subject"] == f"Canceled: {session.title}"
    ics = next(p for p in message.iter_attachments() if p.get_content_type() == "text/calendar")
    assert b"STATUS:CANCELLED" in ics.get_payload(decode=True)
    clock.at(session.start_time - timedelta(minutes=59))
    enqueue(sweep_reminders)
    run_jobs()
    assert len(smtp_sink.messages) == 1
    assert {r.status for r in db.session.scalars(select(Notification).where(Notification.kind.like("reminder_%")))} == {
        "skipped"
    }


@pytest.mark.usefixtures("mail_app")
def test_promotion_tells_the_promoted_member_once(make_session, make_user, make_seat, run_jobs, smtp_sink, clock):
    session = make_session(start_in=timedelta(days=2))
    member = make_user("member")
    seat = make_seat(session, member)
    operations.notify_promoted(seat)
    operations.notify_promoted(seat)  # called twice for the same promotion: one row
    db.session.commit()
    run_jobs()
    assert [m["Subject"] for m in smtp_sink.messages] == [f"You have a seat: {session.title}"]
    # notify_promoted only tells; promote_waitlist plans the reminders once after its loop (next test)
    assert {r.kind for r in db.session.scalars(select(Notification).where(Notification.user_id == member.id))} == {
        "promoted"
    }


@pytest.mark.usefixtures("mail_app")
def test_promoting_several_plans_reminders_once_for_all_of_them(make_session, make_user, make_seat, monkeypatch, clock):
    from portal.seats.operations import promote_waitlist

    session = make_session(start_in=timedelta(days=2), capacity=3)
    waiting = [make_user("member") for _ in range(3)]
    for member in waiting:
        make_seat(session, member, "waitlisted")
    planned = []
    real = operations.plan_reminders_many
    monkeypatch.setattr(
        operations,
        "plan_reminders_many",
        lambda sessions, **kw: (planned.append([s.id for s in sessions]), real(sessions, **kw)),
    )
    promoted = promote_waitlist(session)
    db.session.commit()
    assert sorted(s.user_id for s in promoted) == sorted(m.id for m in waiting)
    assert planned == [[session.id]]
    for member in waiting:
        assert {r.kind for r in db.session.scalars(select(Notification).where(Notification.user_id == member.id))} == {
            "promoted",
            "reminder_24h",
            "reminder_1h",
            "reminder_10m",
        }


@pytest.mark.usefixtures("mail_app")
def test_reminder_email_has_local_time_with_zone_link_no_token_html_text_and_ics(
    make_session, make_user, make_seat, run_jobs, smtp_sink, clock
):
    session = make_session(start_time=datetime(2026, 12, 1, 20, 0, tzinfo=UTC), title="Bo <staff> basics")
    member = make_user("member", timezone="America/New_York", name="Ann O'Neil")
    make_seat(session, member)
    operations.plan_reminders(session)
    db.session.commit()
    clock.at(datetime(2026, 12, 1, 19, 0, 10, tzinfo=UTC))
    enqueue(sweep_reminders)
    run_jobs()
    message = next(m for m in smtp_sink.messages if m["To"].addresses[0].addr_spec == member.email)
    assert message["Subject"] == "Reminder: Bo <staff> basics starts in 1 hour"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Tue 01 Dec 2026, 15:00 EST (America/New_York)" in text
    assert "15:00 EST" in html and "Bo &lt;staff&gt; basics" in html and "<staff>" not in html
    link = session_url(session.id, "http://portal.test")
    assert link in text and f'href="{link}"' in html
    assert "token" not in (text + html).lower()
    assert message["Message-ID"].startswith("<notification-")
    ics = next(p for p in message.iter_attachments() if p.get_content_type() == "text/calendar")
    event = Calendar.from_ical(ics.get_payload(decode=True)).walk("VEVENT")[0]
    assert event.decoded("dtstart") == session.start_time and str(event["url"]) == link


def test_without_smtp_host_mail_goes_to_the_outbox_folder(make_session, run_jobs, app, clock, tmp_path):
    import dataclasses

    original = app.extensions["portal.settings"]
    app.extensions["portal.settings"] = dataclasses.replace(original, SMTP_HOST=None, INSTANCE_PATH=str(tmp_path))
    try:
        session = make_session(start_in=timedelta(hours=5))
        operations.plan_reminders(session)
        db.session.commit()
        clock.at(session.start_time - timedelta(minutes=59))
        enqueue(sweep_reminders)
        run_jobs()
    finally:
        app.extensions["portal.settings"] = original
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1
    assert b"Subject: Reminder: " in files[0].read_bytes()


@pytest.mark.usefixtures("mail_app")
def test_notice_lost_to_a_redis_outage_is_sent_by_the_sweep(
    make_session, make_user, make_seat, run_jobs, smtp_sink, make_app, clock
):
    session = make_session(start_in=timedelta(days=2))
    member = make_user("member")
    seat = make_seat(session, member)
    broken = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    with broken.app_context():
        row = db.session.get(type(session), session.id)
        row.status = "canceled"
        operations.notify_canceled(row, [db.session.get(Seat, seat.id)])
        db.session.commit()  # the push to Redis fails after the commit: logged, the row is pending
        db.session.remove()
    run_jobs()
    assert smtp_sink.messages == []
    enqueue(sweep_reminders)
    run_jobs()
    assert [m["Subject"] for m in smtp_sink.messages] == [f"Canceled: {session.title}"]
