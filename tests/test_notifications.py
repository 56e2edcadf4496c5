"""Notices: reschedule and cancel tell seat holders, promotion tells the promoted member; the emails say the time
in the recipient's zone, link to the session page (never a token) and carry the .ics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal.core.clock import now_utc
from portal.core.queue import enqueue
from portal.extensions import db
from portal.notifications import channels, operations
from portal.notifications.jobs import sweep_reminders
from portal.notifications.models import Notification
from portal.seats.models import Seat
from portal.training.links import session_url


def _to(messages):
    return sorted(m["To"].addresses[0].addr_spec for m in messages)


# Characters that break a header line (or are not allowed in one), as people type or paste them into a title or
# a name: each must leave the email's headers on one line and the email sent.
LINE_BREAKERS = {
    "CR": "\r",
    "LF": "\n",
    "CRLF": "\r\n",
    "LINE SEPARATOR": "\u2028",
    "PARAGRAPH SEPARATOR": "\u2029",
    "NEXT LINE": "\x85",
    "VT": "\x0b",
    "FF": "\x0c",
    "FS": "\x1c",
    "GS": "\x1d",
    "RS": "\x1e",
    "US": "\x1f",
    "TAB": "\t",
    "BEL": "\x07",
    "DEL": "\x7f",
    "NUL": "\x00",
}


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
    for body in ("plain", "html"):  # both bodies say what the attached file does
        assert "(.ics) removes the entry from your calendar" in message.get_body((body,)).get_content()
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


@pytest.mark.usefixtures("mail_app")
@pytest.mark.parametrize("char", LINE_BREAKERS.values(), ids=LINE_BREAKERS.keys())
def test_a_title_and_a_name_with_a_line_breaking_character_still_send_with_one_line_headers(
    char, make_session, make_user, make_seat, run_jobs, smtp_sink, clock
):
    if char == "\x00" and db.engine.dialect.name == "postgresql":
        pytest.skip("PostgreSQL text holds no NUL: such a title or name is refused when it is typed")
    session = make_session(start_in=timedelta(hours=5), title=f"Judo{char}basics")
    member = make_user("member", name=f"Ann{char}Lee")
    make_seat(session, member)
    operations.plan_reminders(session)
    db.session.commit()
    clock.at(session.start_time - timedelta(minutes=59))
    enqueue(sweep_reminders)
    result = run_jobs()
    assert result.names("failed") == []
    assert _to(smtp_sink.messages) == sorted([session.instructor.email, member.email])  # one message each
    message = next(m for m in smtp_sink.messages if m["To"].addresses[0].addr_spec == member.email)
    assert str(message["Subject"]) == "Reminder: Judo basics starts in 1 hour"
    assert str(message["To"]) == f"Ann Lee <{member.email}>"
    text = message.get_body(("plain",)).get_content()
    assert "Judo" in text and "basics" in text
    if char not in ("\r", "\n", "\r\n"):  # line ends are the body's own business; anything else is kept
        assert f"Judo{char}basics" in text
    ics = next(p for p in message.iter_attachments() if p.get_content_type() == "text/calendar")
    event = Calendar.from_ical(ics.get_payload(decode=True)).walk("VEVENT")[0]
    assert str(event["summary"]).startswith("Judo") and str(event["summary"]).endswith("basics")
    rows = db.session.scalars(select(Notification).where(Notification.kind == "reminder_1h")).all()
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1), ("sent", 1)]


@pytest.mark.usefixtures("mail_app")
def test_every_cancel_notice_arrives_whatever_the_title_and_names_hold(
    make_session, make_user, make_seat, run_jobs, smtp_sink, clock
):
    session = make_session(start_in=timedelta(days=1), title="Randori\u2028night\r\n")
    names = ["Bo\r\nKim", "Cy\u2028Lu", "Di\u2029Mo", "Ed\x85No", "Fa\x0bOh", "Gil Pe"]
    seats = [make_seat(session, make_user("member", name=name)) for name in names]
    session.status = "canceled"
    operations.notify_canceled(session, seats)
    db.session.commit()
    result = run_jobs()
    assert result.names("failed") == []
    assert sorted(m["To"].addresses[0].display_name for m in smtp_sink.messages) == [
        "Bo Kim",
        "Cy Lu",
        "Di Mo",
        "Ed No",
        "Fa Oh",
        "Gil Pe",
    ]
    assert {str(m["Subject"]) for m in smtp_sink.messages} == {"Canceled: Randori night"}


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


# --------------------------------------------------------------------------------------------- channels
@dataclass
class PagerChannel:
    """A second channel, registered by the test: it composes a one-line page and keeps what it delivered."""

    name: str = "pager"
    composed: list[int] = field(default_factory=list)  # row ids
    delivered: list[str] = field(default_factory=list)
    failures: int = 0  # refuse this many deliveries first
    switched_on: bool = True

    def enabled(self, settings) -> bool:
        return self.switched_on

    def compose(self, notification, user, session, settings) -> str:
        self.composed.append(notification.id)
        return f"{user.email} | {notification.kind} | {session.title}"

    def deliver(self, message: str, settings) -> str:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("pager gateway down")
        self.delivered.append(message)
        return f"pager #{len(self.delivered)}"

    def describe(self, settings) -> str:
        return "kept by the test"


@pytest.fixture
def pager(monkeypatch):
    monkeypatch.setattr(channels, "CHANNELS", dict(channels.CHANNELS))  # the registry is restored after the test
    return channels.register(PagerChannel())


def _by_channel(**where):
    rows = db.session.scalars(select(Notification).filter_by(**where).order_by(Notification.id)).all()
    return {name: [r for r in rows if r.channel == name] for name in {r.channel for r in rows}}


def test_email_is_the_first_channel_and_the_start_up_line_says_where_each_channel_goes(app, pager):
    settings = app.extensions["portal.settings"]
    assert list(channels.CHANNELS) == ["email", "pager"]
    assert channels.enabled_channels(settings) == ["email", "pager"]
    assert channels.describe_transport(settings).endswith("; pager: kept by the test")
    assert channels.describe_transport(settings).startswith("email: ")
    with pytest.raises(ValueError, match="registered already"):
        channels.register(PagerChannel())
    with pytest.raises(ValueError, match="1 to 20 characters"):
        channels.register(PagerChannel(name="a-pager-with-a-long-name"))


@pytest.mark.usefixtures("mail_app")
def test_the_rows_channel_decides_who_composes_and_delivers_it_once(
    make_session, make_user, make_seat, run_jobs, smtp_sink, clock, pager
):
    session = make_session(start_in=timedelta(hours=5))
    member = make_user("member")
    make_seat(session, member)
    operations.plan_reminders(session)
    db.session.commit()
    rows = _by_channel(session_id=session.id)
    assert sorted(rows) == ["email", "pager"]
    assert sorted((r.key, r.status) for r in rows["email"]) == sorted((r.key, r.status) for r in rows["pager"])

    clock.at(session.start_time - timedelta(minutes=59))
    for _ in range(2):  # a second sweep sends nothing more on either channel
        enqueue(sweep_reminders)
        run_jobs()
    assert _to(smtp_sink.messages) == sorted([session.instructor.email, member.email])
    assert sorted(pager.delivered) == sorted(
        f"{person.email} | reminder_1h | {session.title}" for person in (session.instructor, member)
    )
    sent = _by_channel(session_id=session.id, status="sent")
    assert sorted(pager.composed) == sorted(r.id for r in sent["pager"])  # only its own rows, each once
    assert all(r.attempts == 1 and r.kind == "reminder_1h" for rs in sent.values() for r in rs)
    email_ids = {m["Message-ID"] for m in smtp_sink.messages}
    assert email_ids == {f"<notification-{r.id}-{r.due_at:%Y%m%dT%H%M%SZ}@portal.test>" for r in sent["email"]}


@pytest.mark.usefixtures("mail_app")
def test_a_channel_that_fails_is_retried_through_the_same_claims_and_the_other_channel_is_not_sent_again(
    make_session, make_user, make_seat, run_jobs, smtp_sink, clock, pager
):
    session = make_session(start_in=timedelta(days=2))
    member = make_user("member")
    seat = make_seat(session, member)
    pager.failures = 1
    operations.notify_promoted(seat)
    db.session.commit()
    result = run_jobs()
    assert result.names("failed") == ["send_batch"]
    rows = _by_channel(user_id=member.id)
    [email], [page] = rows["email"], rows["pager"]
    assert email.key == page.key
    assert (email.status, page.status, page.attempts) == ("sent", "pending", 1)
    assert page.last_error == "ConnectionError: pager gateway down"

    clock.shift(timedelta(minutes=1, seconds=1))  # past the backoff of one failed attempt
    enqueue(sweep_reminders)
    run_jobs()
    db.session.refresh(page)
    assert (page.status, page.attempts) == ("sent", 2)
    assert pager.delivered == [f"{member.email} | promoted | {session.title}"]
    assert [m["Subject"] for m in smtp_sink.messages] == [f"You have a seat: {session.title}"]


@pytest.mark.usefixtures("mail_app")
def test_a_row_whose_channel_is_not_registered_is_kept_and_retried(
    make_session, make_user, make_seat, run_jobs, clock, pager
):
    session = make_session(start_in=timedelta(days=2))
    seat = make_seat(session, make_user("member"))
    operations.notify_promoted(seat)
    db.session.commit()
    del channels.CHANNELS["pager"]  # e.g. a worker started without the channel's module
    run_jobs()
    [page] = _by_channel(user_id=seat.user_id)["pager"]
    assert (page.status, page.attempts) == ("pending", 1)
    assert page.last_error.startswith("LookupError: no notification channel named 'pager'")


def test_a_channel_switched_off_gets_no_new_rows_but_its_unsent_ones_follow_a_reschedule(
    app, make_session, make_user, make_seat, pager
):
    session = make_session(start_in=timedelta(days=3))
    operations.plan_reminders(session)
    db.session.commit()
    pager.switched_on = False
    assert channels.enabled_channels(app.extensions["portal.settings"]) == ["email"]
    member = make_user("member")
    make_seat(session, member)
    old = session.start_time
    session.set_schedule(old + timedelta(hours=5), 60)
    operations.notify_rescheduled(session, old)
    db.session.commit()
    rows = _by_channel(session_id=session.id)
    assert {(r.user_id, r.kind) for r in rows["pager"]} == {
        (session.instructor_id, kind) for kind in ("reminder_24h", "reminder_1h", "reminder_10m")
    }
    assert {r.user_id for r in rows["email"]} == {session.instructor_id, member.id}
    assert sorted(r.due_at for r in rows["pager"]) == sorted(
        session.start_time - lead for lead in (timedelta(hours=24), timedelta(hours=1), timedelta(minutes=10))
    )


def test_the_same_key_on_two_channels_is_two_rows(make_session, make_user, make_seat, pager):
    session = make_session(start_in=timedelta(days=2))
    seat = make_seat(session, make_user("member"))
    operations.notify_promoted(seat)
    operations.notify_promoted(seat)  # again: still one row per channel
    db.session.commit()
    rows = _by_channel(user_id=seat.user_id)
    assert {name: [r.kind for r in rs] for name, rs in rows.items()} == {"email": ["promoted"], "pager": ["promoted"]}
    assert rows["email"][0].key == rows["pager"][0].key

    duplicate = {f: getattr(rows["pager"][0], f) for f in ("channel", "key", "kind", "user_id", "due_at", "status")}
    db.session.add(Notification(**duplicate))
    with pytest.raises(IntegrityError):  # (channel, key) is unique in the database, whoever writes
        db.session.flush()
    db.session.rollback()


def test_the_migration_puts_every_existing_row_on_the_email_channel(make_user, app):
    from alembic import command

    from portal.core import migrate

    user = make_user("member")
    before_channels = "34eb5b54883d"  # the revision before notifications had a channel
    db.session.remove()
    config = migrate.alembic_config()
    command.downgrade(config, before_channels)
    try:
        legacy = sa.table(
            "notifications",
            *(sa.column(c.name, c.type) for c in Notification.__table__.columns if c.name not in ("id", "channel")),
        )
        now = now_utc()
        common = {"user_id": user.id, "due_at": now, "status": "sent", "attempts": 1, "context": {}}
        with db.engine.begin() as conn:
            conn.execute(
                sa.insert(legacy),
                [
                    {**common, "key": key, "kind": kind, "created_at": now, "updated_at": now}
                    for key, kind in [("promoted:1:2:3", "promoted"), ("reminder_1h:1:2", "reminder_1h")]
                ],
            )
    finally:
        command.upgrade(config, "head")
    rows = db.session.scalars(select(Notification).order_by(Notification.key)).all()
    assert [(r.channel, r.key, r.status) for r in rows] == [
        ("email", "promoted:1:2:3", "sent"),
        ("email", "reminder_1h:1:2", "sent"),
    ]
    db.session.add(Notification(**{**common, "channel": "pager", "key": "promoted:1:2:3", "kind": "promoted"}))
    db.session.commit()  # the same key on another channel: a row of its own
    assert db.session.query(Notification).filter_by(key="promoted:1:2:3").count() == 2
