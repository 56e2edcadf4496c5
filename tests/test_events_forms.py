"""The event form reads and shows local times with the same helpers as the session form."""

from __future__ import annotations

from datetime import UTC, datetime

from portal.events.forms import event_data, event_values
from portal.events.models import Event

FORM = {
    "title": "Summer camp",
    "description": "",
    "location": "Dojo",
    "visibility": "members",
    "timezone": "Europe/Berlin",
    "start_date": "2026-12-01",
    "start_clock": "18:00",
    "end_date": "2026-12-01",
    "end_clock": "20:30",
}


def test_the_event_form_reads_its_local_start_and_end_in_the_chosen_zone(app):
    data, errors = event_data(FORM)
    assert errors == {}
    assert (data["start_time"], data["end_time"]) == (
        datetime(2026, 12, 1, 17, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 19, 30, tzinfo=UTC),
    )


def test_a_blank_or_unreadable_event_time_gets_its_own_message_and_no_value(app):
    data, errors = event_data({**FORM, "start_date": "", "start_clock": "", "end_clock": "25:99"})
    assert errors == {
        "start_time": "Enter the date and time the event starts.",
        "end_time": "Enter a date (YYYY-MM-DD) and a time (HH:MM).",
    }
    assert "start_time" not in data and "end_time" not in data


def test_the_edit_form_shows_a_stored_event_in_the_viewers_zone(app):
    event = Event(
        title="Summer camp",
        description="",
        location="Dojo",
        visibility="members",
        start_time=datetime(2026, 12, 1, 17, 0, tzinfo=UTC),
        end_time=datetime(2026, 12, 1, 19, 30, tzinfo=UTC),
    )
    values = event_values(event, "Europe/Berlin")
    assert {k: values[k] for k in ("start_date", "start_clock", "end_date", "end_clock", "timezone")} == {
        "start_date": "2026-12-01",
        "start_clock": "18:00",
        "end_date": "2026-12-01",
        "end_clock": "20:30",
        "timezone": "Europe/Berlin",
    }
    assert event_data({**FORM, **values})[0]["start_time"] == event.start_time
