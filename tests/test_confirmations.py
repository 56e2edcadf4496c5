"""Seat confirmations (issue 12): reserving, being waitlisted, promoted and giving up each send one email (HTML and
text) with the session's .ics as an invitation (METHOD:REQUEST) or its cancel (METHOD:CANCEL), under the session's
own UID; once only, and only to those who want confirmations. Reminders after a reschedule (one send per kind and
start time) and the "starting now" message of a seat taken inside the last reminder's window."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from icalendar import Calendar
from sqlalchemy import select

from portal.config import current_settings
from portal.core.clock import now_utc
from portal.extensions import db
from portal.notifications import consent, operations
from portal.notifications.models import Notification
from portal.seats import operations as seats
from portal.seats import signals as seat_signals
from portal.training.ics import session_uid

pytestmark = pytest.mark.usefixtures("mail_app")


def _to(message) -> str:
    return message["To"].addresses[0].addr_spec


def _mails(sink, email: str) -> list:
    return [m for m in sink.messages if _to(m) == email]


def _ics(message) -> tuple[str, Calendar]:
    """(the Content-Type's method parameter, the parsed calendar) of the email's one .ics."""
    [part] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    return part.get_param("method"), Calendar.from_ical(part.get_payload(decode=True))


def _event(calendar: Calendar):
    [event] = calendar.walk("VEVENT")
    return event


def _bodies(message) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def _assert_unsubscribe(message, user, key: str) -> None:
    """The visible link in both bodies is the List-Unsubscribe link, for this person and this preference."""
    url = message["List-Unsubscribe"].strip("<>")
    text, html = _bodies(message)
    assert url in text and f'href="{url}"' in html
    token = urlsplit(url).path.rsplit("/", 1)[-1]
    assert consent.read_unsubscribe_token(token, current_settings()) == (user.id, key)


def _reserve(session, user):
    seat = seats.reserve(session, user)
    db.session.commit()
    return seat


# ------------------------------------------------------------------------------------------------ confirmations
def test_reserve_waitlist_cancel_and_promotion_each_send_one_email_with_the_sessions_ics(
    make_session, make_user, run_jobs, smtp_sink
):
    session = make_session(start_in=timedelta(days=2), capacity=1)
    ann, bob = make_user("member"), make_user("member")
    uid = session_uid(session, current_settings().BASE_URL)

    _reserve(session, ann)
    _reserve(session, bob)  # full: the waitlist
    run_jobs()
    [reserved] = _mails(smtp_sink, ann.email)
    [waiting] = _mails(smtp_sink, bob.email)
    assert reserved["Subject"] == f"Seat confirmed: {session.title}"
    assert waiting["Subject"] == f"On the waitlist: {session.title}"
    method, calendar = _ics(reserved)
    event = _event(calendar)
    assert (method, str(calendar["METHOD"]), str(event["UID"]), str(event["STATUS"])) == (
        "REQUEST",
        "REQUEST",
        uid,
        "CONFIRMED",
    )
    assert str(event["ATTENDEE"]) == f"mailto:{ann.email}" and str(event["ORGANIZER"]).startswith("mailto:")
    method, calendar = _ics(waiting)
    assert (method, str(_event(calendar)["STATUS"]), str(_event(calendar)["UID"])) == ("REQUEST", "TENTATIVE", uid)
    _assert_unsubscribe(reserved, ann, "confirmations")
    _assert_unsubscribe(waiting, bob, "confirmations")
    text, html = _bodies(reserved)
    assert session.title in text and session.title in html and "/sessions/" in text

    seats.cancel_seat(session, ann)  # gives up the seat: Bob is promoted
    db.session.commit()
    run_jobs()
    [_, canceled] = _mails(smtp_sink, ann.email)
    [_, promoted] = _mails(smtp_sink, bob.email)
    assert canceled["Subject"] == f"Seat canceled: {session.title}"
    method, calendar = _ics(canceled)
    event = _event(calendar)
    assert (method, str(calendar["METHOD"]), str(event["UID"]), str(event["STATUS"])) == (
        "CANCEL",
        "CANCEL",
        uid,
        "CANCELLED",
    )
    assert "removes the entry" in _bodies(canceled)[0]
    assert promoted["Subject"] == f"You have a seat: {session.title}"
    method, calendar = _ics(promoted)
    assert (method, str(_event(calendar)["UID"]), str(_event(calendar)["STATUS"])) == ("REQUEST", uid, "CONFIRMED")
    # the cancel's SEQUENCE is not below the invitation's: calendars apply it
    assert int(_event(_ics(canceled)[1])["SEQUENCE"]) >= int(_event(_ics(reserved)[1])["SEQUENCE"])
    _assert_unsubscribe(canceled, ann, "confirmations")
    _assert_unsubscribe(promoted, bob, "confirmations")
    assert len(smtp_sink.messages) == 4


def test_a_signal_sent_twice_and_a_second_sweep_still_give_one_email(
    make_session, make_user, run_jobs, sweep, smtp_sink
):
    session = make_session(start_in=timedelta(days=2))
    ann = make_user("member")
    seat = seats.reserve(session, ann)
    seat_signals.seat_taken.send(session, seat=seat, via="reserve")  # a receiver run twice for the same seat
    db.session.commit()
    run_jobs()
    sweep()
    sweep()
    assert [m["Subject"] for m in smtp_sink.messages] == [f"Seat confirmed: {session.title}"]
    rows = db.session.scalars(select(Notification).where(Notification.kind == "seat_reserved")).all()
    assert [(r.user_id, r.status) for r in rows] == [(ann.id, "sent")]


def test_reserving_again_after_a_cancel_is_confirmed_again(make_session, make_user, run_jobs, smtp_sink, clock):
    session = make_session(start_in=timedelta(days=2))
    ann = make_user("member")
    _reserve(session, ann)
    clock.shift(timedelta(minutes=1))
    seats.cancel_seat(session, ann)
    db.session.commit()
    clock.shift(timedelta(minutes=1))
    _reserve(session, ann)
    run_jobs()
    subjects = sorted(m["Subject"].split(":")[0] for m in smtp_sink.messages)
    assert subjects == ["Seat canceled", "Seat confirmed", "Seat confirmed"]


@pytest.mark.parametrize("via", ["join", "standing"])
def test_a_seat_taken_on_joining_or_by_a_standing_booking_is_not_confirmed_per_date(
    via, make_session, make_user, make_seat, run_jobs, smtp_sink
):
    session = make_session(start_in=timedelta(days=2))
    ann = make_user("member")
    seat = make_seat(session, ann)
    seat_signals.seat_taken.send(session, seat=seat, via=via)
    seat_signals.seat_waitlisted.send(session, seat=seat, via=via)
    db.session.commit()
    run_jobs()
    assert smtp_sink.messages == []
    kinds = {r.kind for r in db.session.scalars(select(Notification).where(Notification.user_id == ann.id))}
    assert kinds == {"reminder_24h", "reminder_1h", "reminder_10m"}  # the reminders are planned all the same


def test_confirmations_turned_off_are_not_sent_but_reminders_still_are(
    make_session, make_user, run_jobs, smtp_sink, clock, sweep
):
    session = make_session(start_in=timedelta(days=2))
    ann = make_user("member")
    ann.email_preferences = {"confirmations": False}
    db.session.commit()
    _reserve(session, ann)
    seats.cancel_seat(session, ann)
    db.session.commit()
    run_jobs()
    assert smtp_sink.messages == []
    rows = db.session.scalars(select(Notification).where(Notification.kind.like("seat_%"))).all()
    assert {(r.kind, r.status, r.last_error) for r in rows} == {
        ("seat_reserved", "skipped", "the recipient turned off confirmations emails"),
        ("seat_canceled", "skipped", "the recipient turned off confirmations emails"),
    }


# ------------------------------------------------------------------------------------------------ reschedules
def _reschedule(session, new_start):
    from portal.training.operations import update_session

    update_session(session, {"start_time": new_start.isoformat()}, actor=session.instructor)
    db.session.commit()


def _reminder(session, user_id, kind):
    db.session.expire_all()
    return db.session.scalar(
        select(Notification).where(
            Notification.session_id == session.id, Notification.user_id == user_id, Notification.kind == kind
        )
    )


def test_a_reminder_is_sent_once_per_start_time_however_often_the_session_moves(
    make_session, make_user, make_seat, run_jobs, sweep, smtp_sink, clock
):
    session = make_session(start_in=timedelta(days=3))
    ann = make_user("member")
    make_seat(session, ann)
    operations.plan_reminders(session)
    db.session.commit()
    first_start = session.start_time

    clock.at(first_start - timedelta(hours=24) + timedelta(seconds=30))
    sweep()
    day_before = [m for m in _mails(smtp_sink, ann.email) if "24 hours" in m["Subject"]]
    assert len(day_before) == 1
    sent_at = _reminder(session, ann.id, "reminder_24h").sent_at

    later = first_start + timedelta(days=2)
    _reschedule(session, later)  # the 24 h reminder is due again, for the new time
    run_jobs()
    row = _reminder(session, ann.id, "reminder_24h")
    assert (row.status, row.due_at) == ("pending", later - timedelta(hours=24))

    _reschedule(session, first_start)  # back to the time whose reminder went out: it stays sent, never twice
    run_jobs()
    row = _reminder(session, ann.id, "reminder_24h")
    assert (row.status, row.due_at, row.sent_at) == ("sent", first_start - timedelta(hours=24), sent_at)
    sweep()
    sweep()
    assert len([m for m in _mails(smtp_sink, ann.email) if "24 hours" in m["Subject"]]) == 1

    _reschedule(session, later)  # and forward again: due for that time, once
    clock.at(later - timedelta(hours=24) + timedelta(seconds=30))
    sweep()
    sweep()
    assert len([m for m in _mails(smtp_sink, ann.email) if "24 hours" in m["Subject"]]) == 2
    assert _reminder(session, ann.id, "reminder_24h").status == "sent"


# ------------------------------------------------------------------------------------------------ starting now
def _subjects(sink, email):
    return [m["Subject"] for m in _mails(sink, email)]


def test_a_seat_taken_inside_the_last_reminders_window_gets_one_starting_now_message(
    make_session, make_user, run_jobs, sweep, smtp_sink, clock
):
    session = make_session(start_in=timedelta(hours=3))
    ann = make_user("member")
    clock.at(session.start_time - timedelta(minutes=5))
    _reserve(session, ann)
    run_jobs()
    sweep()
    sweep()
    assert sorted(_subjects(smtp_sink, ann.email)) == sorted(
        [f"Seat confirmed: {session.title}", f"Starting now: {session.title}"]
    )
    [starting] = [m for m in _mails(smtp_sink, ann.email) if m["Subject"].startswith("Starting now")]
    text, html = _bodies(starting)
    assert "starting now" in text and f"/sessions/{session.id}" in html
    _assert_unsubscribe(starting, ann, "reminder_10m")  # it stands in for the last reminder
    assert not list(starting.iter_attachments())
    rows = {r.kind: r.status for r in db.session.scalars(select(Notification).where(Notification.user_id == ann.id))}
    assert rows == {
        "reminder_24h": "skipped",
        "reminder_1h": "skipped",
        "reminder_10m": "skipped",
        "seat_reserved": "sent",
        "starting_now": "sent",
    }
    seat_signals.seat_taken.send(session, seat=seats.seat_of(session, ann), via="reserve")  # again: nothing more
    db.session.commit()
    run_jobs()
    assert len(_mails(smtp_sink, ann.email)) == 2


def test_a_seat_taken_between_two_reminders_gets_only_the_next_one(
    make_session, make_user, run_jobs, sweep, smtp_sink, clock
):
    session = make_session(start_in=timedelta(hours=3))
    ann = make_user("member")
    clock.at(session.start_time - timedelta(minutes=30))  # after the 1 h moment, before the 10 min one
    _reserve(session, ann)
    run_jobs()
    sweep()
    assert _subjects(smtp_sink, ann.email) == [f"Seat confirmed: {session.title}"]  # no stale "1 hour", no "now"
    clock.at(session.start_time - timedelta(minutes=10) + timedelta(seconds=20))
    sweep()
    sweep()
    assert _subjects(smtp_sink, ann.email)[1:] == [f"Reminder: {session.title} starts in 10 minutes"]


def test_no_starting_now_for_a_seat_taken_on_joining_nor_to_one_who_had_the_last_reminder(
    make_session, make_user, make_seat, run_jobs, sweep, smtp_sink, clock
):
    session = make_session(start_in=timedelta(hours=3))
    joiner, holder = make_user("member"), make_user("member")
    make_seat(session, holder)
    operations.plan_reminders(session)
    db.session.commit()
    clock.at(session.start_time - timedelta(minutes=10) + timedelta(seconds=20))
    sweep()
    assert _subjects(smtp_sink, holder.email) == [f"Reminder: {session.title} starts in 10 minutes"]

    clock.at(session.start_time - timedelta(minutes=4))
    seat = make_seat(session, joiner)
    seat_signals.seat_taken.send(session, seat=seat, via="join")
    holder_seat = seats.seat_of(session, holder)
    seat_signals.seat_taken.send(session, seat=holder_seat, via="reserve")  # e.g. a seat taken again
    db.session.commit()
    run_jobs()
    assert _subjects(smtp_sink, joiner.email) == []
    assert not any(s.startswith("Starting now") for s in _subjects(smtp_sink, holder.email))


def test_a_member_promoted_inside_the_window_is_told_it_is_starting(
    make_session, make_user, make_seat, run_jobs, smtp_sink, clock
):
    session = make_session(start_in=timedelta(hours=3), capacity=1)
    ann, bob = make_user("member"), make_user("member")
    make_seat(session, ann)
    make_seat(session, bob, "waitlisted")
    clock.at(session.start_time - timedelta(minutes=3))
    seats.cancel_seat(session, ann)
    db.session.commit()
    run_jobs()
    assert sorted(_subjects(smtp_sink, bob.email)) == sorted(
        [f"You have a seat: {session.title}", f"Starting now: {session.title}"]
    )
    assert now_utc() < session.start_time


def test_the_rule_that_drops_a_session_day_notice_no_longer_owed():
    from portal.notifications.rules import notice_not_owed

    now = now_utc()
    end = now + timedelta(minutes=50)
    owed = {"session_status": "scheduled", "end_time": end, "now": now, "holds_seat": True}
    assert notice_not_owed("starting_now", **owed) is None
    assert notice_not_owed("starting_now", **{**owed, "session_status": "live"}) is None
    assert notice_not_owed("starting_now", **{**owed, "holds_seat": False}) == "no longer holds a seat"
    assert notice_not_owed("starting_now", **{**owed, "session_status": "canceled"}) == "the session is canceled"
    assert notice_not_owed("starting_now", **{**owed, "now": end}) == "the session is over"
    assert notice_not_owed("instructor_late", **owed) is None
    assert notice_not_owed("instructor_late", **{**owed, "session_status": "live"}) == "the session is live"
    assert notice_not_owed("lead_changed", **{**owed, "session_status": "ended"}) == "the session is ended"
    assert notice_not_owed("recording_ready", **{**owed, "session_status": "ended", "holds_seat": False}) is None
