"""The .ics file of a session."""

from datetime import UTC, datetime, timedelta

from icalendar import Calendar

from portal.training.ics import session_ics


def _event(data: bytes):
    calendar = Calendar.from_ical(data)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    return events[0]


def test_ics_has_utc_start_end_title_link_and_an_alarm_ten_minutes_before(make_session, clock):
    session = make_session(
        start_time=datetime(2026, 12, 3, 17, 30, tzinfo=UTC), duration_minutes=90, title="Kata: Heian Shodan"
    )
    event = _event(session_ics(session, base_url="https://portal.example.org/"))
    assert event.decoded("dtstart") == datetime(2026, 12, 3, 17, 30, tzinfo=UTC)
    assert event.decoded("dtend") == datetime(2026, 12, 3, 19, 0, tzinfo=UTC)
    assert event.decoded("dtstart").utcoffset() == timedelta(0)
    assert str(event["summary"]) == "Kata: Heian Shodan"
    assert str(event["url"]).endswith(f"/{session.id}") and str(event["url"]).startswith("https://portal.example.org/")
    assert str(event["url"]) in str(event["description"])
    alarms = event.walk("VALARM")
    assert len(alarms) == 1 and alarms[0].decoded("trigger") == -timedelta(minutes=10)
    assert "token" not in session_ics(session, base_url="https://portal.example.org").decode().lower()


def test_ics_uid_is_stable_per_session_and_differs_between_sessions(make_session, clock):
    one, two = make_session(), make_session()
    uid = str(_event(session_ics(one, base_url="http://x")).get("uid"))
    clock.shift(timedelta(hours=1))
    one.set_schedule(one.start_time + timedelta(days=1), 60)
    assert str(_event(session_ics(one, base_url="http://x")).get("uid")) == uid
    assert str(_event(session_ics(two, base_url="http://x")).get("uid")) != uid


def test_canceled_session_ics_says_cancelled_and_has_no_alarm(make_session, clock):
    session = make_session(status="canceled")
    data = session_ics(session, base_url="http://x")
    event = _event(data)
    assert str(event["status"]) == "CANCELLED"
    assert event.walk("VALARM") == []
    assert b"METHOD:CANCEL" in data


def test_a_title_with_line_breaks_or_control_characters_is_one_clean_summary_line(make_session):
    session = make_session(title="Judo\r\nbasics\u2028for\x0bkids")
    calendar = Calendar.from_ical(session_ics(session, base_url="http://portal.test"))
    event = next(iter(calendar.walk("VEVENT")))
    assert str(event["SUMMARY"]) == "Judo basics for kids"
    assert str(next(iter(event.walk("VALARM")))["DESCRIPTION"]) == "Judo basics for kids starts in 10 minutes"
