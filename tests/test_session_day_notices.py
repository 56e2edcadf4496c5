"""The session day's notices (issue 12), each sent by its signal with real rows and read from the real SMTP sink:
the late instructor (instructors and board, once), a session that never started (seat holders, with the next
sessions they may see), a recording ready (confirmed seat holders, no-shows included; the portal's link, never the
provider's), a new lead instructor (seat holders) and a no-show's seat released. Every email's bodies show the
unsubscribe link of its kind (issue 10); account emails have none."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from portal.config import current_settings
from portal.core.clock import now_utc
from portal.extensions import db
from portal.notifications import consent, emails
from portal.notifications.models import Notification
from portal.seats import signals as seat_signals
from portal.seats.models import Attendance
from portal.training import signals as training_signals
from portal.training.models import SessionAssistant

pytestmark = pytest.mark.usefixtures("mail_app")


def _to(message) -> str:
    return message["To"].addresses[0].addr_spec


def _bodies(message) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def _assert_unsubscribe(message, user, key: str) -> None:
    url = message["List-Unsubscribe"].strip("<>")
    text, html = _bodies(message)
    assert url in text and f'href="{url}"' in html
    token = urlsplit(url).path.rsplit("/", 1)[-1]
    assert consent.read_unsubscribe_token(token, current_settings()) == (user.id, key)


def _twice(signal, sender, **kwargs) -> None:
    """The signal sent twice (a routine run twice, two processes): one email each all the same."""
    signal.send(sender, **kwargs)
    db.session.commit()
    signal.send(sender, **kwargs)
    db.session.commit()


# ------------------------------------------------------------------------------------------------ late instructor
def test_a_late_instructor_is_told_once_with_the_assistants_and_the_board(
    make_session, make_user, make_seat, run_jobs, sweep, smtp_sink, clock
):
    lead, assistant, other = make_user("instructor"), make_user("instructor"), make_user("instructor")
    board, admin, member = make_user("board_member"), make_user("admin"), make_user("member")
    make_user("board_member", is_active=False)
    session = make_session(instructor=lead, start_in=timedelta(hours=2))
    db.session.add(SessionAssistant(session_id=session.id, user_id=assistant.id))
    make_seat(session, member)
    clock.at(session.start_time + timedelta(minutes=5))
    _twice(training_signals.instructor_late, session)
    run_jobs()
    sweep()
    received = sorted(_to(m) for m in smtp_sink.messages)
    assert received == sorted([lead.email, assistant.email, board.email])
    assert other.email not in received and admin.email not in received and member.email not in received
    message = next(m for m in smtp_sink.messages if _to(m) == assistant.email)
    assert message["Subject"] == f"Not started yet: {session.title}"
    text, html = _bodies(message)
    assert "has not been started yet" in text and f"/sessions/{session.id}" in html
    assert not list(message.iter_attachments())
    _assert_unsubscribe(message, assistant, "notices")


# ------------------------------------------------------------------------------------------------ never started
def test_a_session_that_never_started_tells_its_seat_holders_with_the_next_sessions_they_may_see(
    make_session, make_user, make_seat, make_event, run_jobs, smtp_sink, clock
):
    from portal.training.operations import end_session

    event = make_event(start_in=timedelta(days=1), length=timedelta(days=30))
    session = make_session(event=event, start_in=timedelta(hours=1), is_public=True, members_only=False)
    later = [
        make_session(event=event, start_in=timedelta(days=d), title=f"Next {d}", is_public=public, members_only=False)
        for d, public in [(4, True), (2, True), (3, False), (5, True), (6, True)]
    ]
    make_session(event=event, start_in=timedelta(days=1), title="Canceled one", status="canceled", is_public=True)
    make_session(event=event, start_in=timedelta(hours=-30), title="Past one", status="ended", is_public=True)
    make_session(start_in=timedelta(days=1), title="Another event's", is_public=True)
    member, guest, waiting, gone = (
        make_user("member", timezone="Europe/Berlin"),
        make_user("public"),
        make_user("member"),
        make_user("member"),
    )
    make_seat(session, member)
    make_seat(session, guest)
    make_seat(session, waiting, "waitlisted")
    make_seat(session, gone, "canceled")
    clock.at(session.start_time + timedelta(minutes=31))
    end_session(session, actor=None, reason="not_started")
    db.session.commit()
    training_signals.session_ended.send(session)  # a second time: one email each all the same
    db.session.commit()
    run_jobs()
    assert sorted(_to(m) for m in smtp_sink.messages) == sorted([member.email, guest.email, waiting.email])

    by_person = {_to(m): m for m in smtp_sink.messages}
    message = by_person[member.email]
    assert message["Subject"] == f"Did not take place: {session.title}"
    text, html = _bodies(message)
    assert "did not take place" in text
    shown = [line.strip() for line in text.splitlines() if line.strip().startswith("- ")]
    assert shown == [
        "- Next 2, " + emails.format_local(later[1].start_time, emails.ZoneInfo("Europe/Berlin")),
        "- Next 3, " + emails.format_local(later[2].start_time, emails.ZoneInfo("Europe/Berlin")),
        "- Next 4, " + emails.format_local(later[0].start_time, emails.ZoneInfo("Europe/Berlin")),
    ]
    for other in later[:3]:
        assert f"http://portal.test/sessions/{other.id}" in html
    assert "Canceled one" not in text and "Past one" not in text and "Another event" not in text
    _assert_unsubscribe(message, member, "notices")
    guest_text = _bodies(by_person[guest.email])[0]  # a `public` user sees only public sessions
    assert "Next 2" in guest_text and "Next 4" in guest_text and "Next 5" in guest_text
    assert "Next 3" not in guest_text


def test_an_ordinary_end_tells_nobody(make_session, make_user, make_seat, run_jobs, smtp_sink, clock):
    session = make_session(start_in=timedelta(hours=-1), status="live")
    make_seat(session, make_user("member"))
    session.status, session.end_reason, session.ended_at = "ended", "instructor", now_utc()
    training_signals.session_ended.send(session)
    db.session.commit()
    run_jobs()
    assert smtp_sink.messages == []


# ------------------------------------------------------------------------------------------------ recordings
def test_a_ready_recording_is_told_once_to_each_confirmed_seat_holder_no_shows_included(
    make_session, make_user, make_seat, run_jobs, sweep, smtp_sink
):
    provider_link = "https://recordings.provider.example/secret-link-123"
    session = make_session(
        start_in=timedelta(hours=-2),
        status="ended",
        recording_status="ready",
        recording_url=provider_link,
        recording_enabled=True,
    )
    came, stayed_away, waiting, canceled, unsubscribed = (make_user("member") for _ in range(5))
    for person in (came, stayed_away, unsubscribed):
        make_seat(session, person)
    make_seat(session, waiting, "waitlisted")
    make_seat(session, canceled, "canceled")
    joined = session.start_time + timedelta(minutes=1)
    db.session.add(
        Attendance(
            session_id=session.id, user_id=came.id, first_joined_at=joined, last_joined_at=joined, watch_seconds=60
        )
    )
    unsubscribed.email_preferences = {"recordings": False}
    db.session.commit()

    _twice(training_signals.recording_ready, session)
    run_jobs()
    sweep()
    assert sorted(_to(m) for m in smtp_sink.messages) == sorted([came.email, stayed_away.email])
    for message in smtp_sink.messages:
        assert message["Subject"] == f"Recording ready: {session.title}"
        text, html = _bodies(message)
        watch = f"http://portal.test/recordings/{session.id}/watch"
        assert watch in text and f'href="{watch}"' in html and "http://portal.test/recordings" in text
        assert provider_link not in text and provider_link not in html and "provider.example" not in message.as_string()
    _assert_unsubscribe(next(m for m in smtp_sink.messages if _to(m) == came.email), came, "recordings")
    skipped = db.session.scalar(select(Notification).where(Notification.user_id == unsubscribed.id))
    assert (skipped.status, skipped.last_error) == ("skipped", "the recipient turned off recordings emails")


# ------------------------------------------------------------------------------------------------ a new lead
def test_a_new_lead_instructor_is_told_to_seat_holders_once_by_name(
    make_session, make_user, make_seat, run_jobs, smtp_sink
):
    old_lead, new_lead = make_user("instructor"), make_user("instructor", name="Sam Substitute")
    session = make_session(instructor=old_lead, start_in=timedelta(days=1))
    member, waiting, gone = make_user("member"), make_user("member"), make_user("member")
    make_seat(session, member)
    make_seat(session, waiting, "waitlisted")
    make_seat(session, gone, "canceled")
    session.instructor_id = new_lead.id
    db.session.commit()
    _twice(training_signals.lead_changed, session, old_lead_id=old_lead.id, new_lead_id=new_lead.id, actor=old_lead)
    run_jobs()
    assert sorted(_to(m) for m in smtp_sink.messages) == sorted([member.email, waiting.email])
    message = smtp_sink.messages[0]
    assert message["Subject"] == f"New instructor: {session.title}"
    text, html = _bodies(message)
    assert "new lead instructor: Sam Substitute" in text and "Sam Substitute" in html
    _assert_unsubscribe(message, member if _to(message) == member.email else waiting, "notices")


# ------------------------------------------------------------------------------------------------ no-shows
def test_a_no_show_whose_seat_went_to_the_waitlist_is_told_once(
    make_session, make_user, make_seat, run_jobs, smtp_sink
):
    session = make_session(start_in=timedelta(minutes=-6), status="live", release_no_shows=True)
    absent, present = make_user("member"), make_user("member")
    seat = make_seat(session, absent)
    make_seat(session, present)
    _twice(seat_signals.seats_released, session, seats=[seat], because="no_show")
    run_jobs()
    assert [_to(m) for m in smtp_sink.messages] == [absent.email]
    message = smtp_sink.messages[0]
    assert message["Subject"] == f"Your seat went to the waitlist: {session.title}"
    assert "had not joined" in _bodies(message)[0] and "had not joined" in _bodies(message)[1]
    _assert_unsubscribe(message, absent, "notices")


# ------------------------------------------------------------------------------------------------ every kind
SESSION_KINDS = [
    ("reminder_1h", "reminder_1h"),
    ("rescheduled", "notices"),
    ("canceled", "notices"),
    ("series_canceled", "notices"),
    ("series_updated", "notices"),
    ("promoted", "confirmations"),
    ("seat_reserved", "confirmations"),
    ("seat_waitlisted", "confirmations"),
    ("seat_canceled", "confirmations"),
    ("starting_now", "reminder_10m"),
    ("instructor_late", "notices"),
    ("not_started", "notices"),
    ("recording_ready", "recordings"),
    ("lead_changed", "notices"),
    ("no_show_released", "notices"),
]


@pytest.mark.parametrize(("kind", "key"), SESSION_KINDS)
def test_every_session_email_shows_its_unsubscribe_link_in_both_bodies(kind, key, make_session, make_user):
    session = make_session(start_in=timedelta(days=1))
    member = make_user("member")
    context = {"starts": [session.start_time.isoformat()], "old_start_time": session.start_time.isoformat()}
    row = Notification(
        id=1, channel="email", key="k", kind=kind, user_id=member.id, session_id=session.id, context=context
    )
    row.due_at = session.start_time - timedelta(hours=1)
    settings = current_settings()
    mail = emails.compose(row, member, session, settings)
    url = consent.unsubscribe_url(member, key, settings)
    assert url in mail.text and f'href="{url}"' in mail.html
    assert "Unsubscribe from these emails" in mail.text and "Unsubscribe from these emails" in mail.html


@pytest.mark.parametrize("kind", ["verify_email", "password_reset", "invitation", "email_change"])
def test_account_emails_have_html_and_text_and_no_unsubscribe(kind, make_user):
    member = make_user("member")
    row = Notification(
        id=1, channel="email", key="k", kind=kind, user_id=member.id, context={"new_email": "new@example.org"}
    )
    row.due_at = now_utc()
    mail = emails.compose(row, member, None, current_settings())
    assert mail.text.strip() and "<a href=" in mail.html
    assert "/unsubscribe/" not in mail.text and "/unsubscribe/" not in mail.html
