"""Local times that happen twice or not at all (issue 16, item 8): the forms ask which one, the edit form sends back
exactly the moment it showed, and a time in the spring-forward gap is moved forward only once the form said so."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from portal.core import forms as core_forms
from portal.core.timezones import LocalTimeChoice, parse_local
from portal.events.models import Event
from portal.extensions import db
from portal.training import signals
from portal.training.models import TrainingSession
from tests.conftest import csrf_token

NEW_YORK = "America/New_York"
FIRST_0130 = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, before the clocks go back on 1 Nov 2026
SECOND_0130 = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST, the repeated hour


@pytest.fixture
def october(clock):
    """Early October 2026: the fall-back night (1 Nov) and the spring-forward one (14 Mar 2027) lie ahead."""
    clock.at(datetime(2026, 10, 1, 12, 0, tzinfo=UTC))
    return clock


class _Form(HTMLParser):
    """What a browser would submit for the page's <form method=post>: inputs, checked radios and checkboxes, the
    selected option of each select, textareas."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None
        self._first_option: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name:
            if a.get("type") in ("radio", "checkbox"):
                if "checked" in a:
                    self.values[name] = a.get("value", "on")
            elif a.get("type") != "submit":
                self.values[name] = a.get("value") or ""
        elif tag == "select":
            self._select, self._first_option = name, None
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = a.get("value", "")
            if "selected" in a:
                self.values[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag):
        if tag == "select" and self._select:
            self.values.setdefault(self._select, self._first_option or "")
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def submitted(html: str) -> dict[str, str]:
    parser = _Form()
    parser.feed(html)
    return parser.values


def text(response) -> str:
    return response.get_data(as_text=True)


def new_session_form(**overrides: str) -> dict[str, str]:
    return {
        "title": "Night kata",
        "start_date": "2026-11-01",
        "start_clock": "01:30",
        "timezone": NEW_YORK,
        "duration_minutes": "60",
        **overrides,
    }


def sessions() -> list[TrainingSession]:
    db.session.expire_all()
    return list(db.session.scalars(select(TrainingSession)))


# ------------------------------------------------------------------------------------------------ reading a time
def test_a_repeated_time_offers_both_readings_and_a_skipped_one_the_time_moved_forward():
    with pytest.raises(LocalTimeChoice) as twice:
        parse_local("2026-11-01", "01:30", NEW_YORK)
    assert "happens twice" in str(twice.value)
    assert [(r.fold, r.utc, r.label) for r in twice.value.readings] == [
        (0, FIRST_0130, "01:30 EDT (first)"),
        (1, SECOND_0130, "01:30 EST (second)"),
    ]
    assert parse_local("2026-11-01", "01:30", NEW_YORK, fold=1) == SECOND_0130
    assert parse_local("2026-11-01", "01:30", NEW_YORK, fold=0) == FIRST_0130

    with pytest.raises(LocalTimeChoice) as skipped:
        parse_local("2027-03-14", "02:30", NEW_YORK)
    assert "02:30 does not exist on 14 Mar 2027 in America/New_York" in str(skipped.value)
    assert "it would be 03:30 EDT" in str(skipped.value)
    assert [(r.fold, r.utc) for r in skipped.value.readings] == [(0, datetime(2027, 3, 14, 7, 30, tzinfo=UTC))]
    assert parse_local("2027-03-14", "02:30", NEW_YORK, fold=0) == datetime(2027, 3, 14, 7, 30, tzinfo=UTC)
    # Lord Howe Island moves its clocks by half an hour
    with pytest.raises(LocalTimeChoice, match="forward 30 min that night, so it would be 02:45"):
        parse_local("2026-10-04", "02:15", "Australia/Lord_Howe")
    # an ordinary time needs no choice, whatever fold is sent
    assert parse_local("2026-11-02", "01:30", NEW_YORK, fold=1) == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)


def test_a_choice_counts_only_for_the_time_it_was_offered_for():
    form = {"start_date": "2026-11-01", "start_clock": "01:30", "timezone": NEW_YORK, "start_fold": "1"}
    stale = {**form, "start_fold_for": "2026-11-01 01:45 America/New_York"}
    value, error = core_forms.read_local_time(stale, "start", "missing")
    assert value is None and isinstance(error, core_forms.TimeChoiceError)
    assert error.key == "2026-11-01 01:30 America/New_York" and [c[0] for c in error.choices] == ["0", "1"]
    key = error.key
    assert core_forms.read_local_time({**form, "start_fold_for": key}, "start", "missing") == (SECOND_0130, None)
    assert core_forms.read_local_time({**form, "start_fold": "2", "start_fold_for": key}, "start", "m")[0] is None


# ------------------------------------------------------------------------------------------------ the session form
def test_editing_only_the_title_of_a_session_in_the_repeated_hour_keeps_its_time(
    october, client, login_as, make_session
):
    instructor = login_as("instructor", timezone=NEW_YORK)
    session = make_session(instructor=instructor, start_time=SECOND_0130, title="Second 01:30")
    changes: list[dict] = []

    def updated(sender, **extra):
        changes.append(extra["changes"])

    page = text(client.get(f"/sessions/{session.id}/edit"))
    assert "01:30 EDT (first)" in page and "01:30 EST (second)" in page
    values = submitted(page)
    assert (values["start_clock"], values["start_fold"]) == ("01:30", "1")
    with signals.session_updated.connected_to(updated):
        response = client.post(f"/sessions/{session.id}/edit", data={**values, "title": "Renamed"})
    assert response.status_code == 302, text(response)
    stored = sessions()[0]
    assert (stored.title, stored.start_time) == ("Renamed", SECOND_0130)
    assert changes and all("start_time" not in change for change in changes)  # no "New time" notice

    # and the first 01:30 round-trips as the first
    first = make_session(instructor=instructor, start_time=FIRST_0130, title="First 01:30")
    values = submitted(text(client.get(f"/sessions/{first.id}/edit")))
    assert values["start_fold"] == "0"
    assert client.post(f"/sessions/{first.id}/edit", data={**values, "title": "Still first"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(TrainingSession, first.id).start_time == FIRST_0130


def test_creating_at_a_repeated_time_asks_which_one_and_stores_nothing_until_answered(october, client, login_as):
    login_as("instructor", timezone=NEW_YORK)
    form = {**new_session_form(), "csrf_token": csrf_token(client)}
    asked = client.post("/sessions/new", data=form)
    page = text(asked)
    assert asked.status_code == 422 and sessions() == []
    assert "01:30 on 01 Nov 2026 in America/New_York happens twice" in page
    assert 'type="radio"' in page and "01:30 EDT (first)" in page and "01:30 EST (second)" in page
    values = submitted(page)
    assert "start_fold" not in values  # nothing is chosen for the user
    assert client.post("/sessions/new", data={**values, "start_fold": "1"}).status_code == 302
    assert [s.start_time for s in sessions()] == [SECOND_0130]


def test_a_choice_made_for_another_time_is_asked_again(october, client, login_as):
    login_as("instructor", timezone=NEW_YORK)
    form = {
        **new_session_form(start_clock="01:45"),
        "start_fold": "1",
        "start_fold_for": "2026-11-01 01:30 America/New_York",
        "csrf_token": csrf_token(client),
    }
    response = client.post("/sessions/new", data=form)
    assert response.status_code == 422 and "01:45 on 01 Nov 2026" in text(response) and sessions() == []


def test_a_time_in_the_spring_forward_gap_is_moved_forward_once_the_form_has_said_so(october, client, login_as):
    login_as("instructor", timezone=NEW_YORK)
    form = {**new_session_form(start_date="2027-03-14", start_clock="02:30"), "csrf_token": csrf_token(client)}
    said = client.post("/sessions/new", data=form)
    page = text(said)
    assert said.status_code == 422 and sessions() == []
    assert "02:30 does not exist on 14 Mar 2027 in America/New_York" in page and "it would be 03:30 EDT" in page
    assert "03:30 EDT (moved forward by the 1 h the clocks skip)" in page
    values = submitted(page)
    assert client.post("/sessions/new", data={**values, "start_fold": "0"}).status_code == 302
    assert [s.start_time for s in sessions()] == [datetime(2027, 3, 14, 7, 30, tzinfo=UTC)]  # 03:30 EDT


def test_a_chosen_reading_survives_another_fields_error(october, client, login_as):
    login_as("instructor", timezone=NEW_YORK)
    first = submitted(text(client.post("/sessions/new", data={**new_session_form(), "csrf_token": csrf_token(client)})))
    again = client.post("/sessions/new", data={**first, "start_fold": "1", "title": ""})
    assert again.status_code == 422 and "happens twice" not in text(again)
    values = submitted(text(again))
    assert (values["start_fold"], values["start_fold_for"]) == ("1", "2026-11-01 01:30 America/New_York")
    assert client.post("/sessions/new", data={**values, "title": "Named now"}).status_code == 302
    assert [s.start_time for s in sessions()] == [SECOND_0130]


# ------------------------------------------------------------------------------------------------ the event form
def test_the_event_form_asks_for_a_repeated_end_and_round_trips_it(october, client, login_as):
    login_as("board_member", timezone=NEW_YORK)
    form = {
        "title": "Overnight camp",
        "description": "",
        "location": "Dojo",
        "visibility": "members",
        "start_date": "2026-10-31",
        "start_clock": "18:00",
        "end_date": "2026-11-01",
        "end_clock": "01:30",
        "timezone": NEW_YORK,
        "csrf_token": csrf_token(client),
    }
    asked = client.post("/events/new", data=form)
    assert asked.status_code == 422 and "happens twice" in text(asked)
    assert db.session.scalar(select(func.count()).select_from(Event)) == 0
    created = client.post("/events/new", data={**submitted(text(asked)), "end_fold": "1"})
    assert created.status_code == 302, text(created)
    event = db.session.scalar(select(Event))
    assert event.end_time == SECOND_0130

    values = submitted(text(client.get(f"/events/{event.id}/edit")))
    assert values["end_fold"] == "1" and "start_fold" not in values
    assert client.post(f"/events/{event.id}/edit", data={**values, "title": "Overnight camp 2"}).status_code == 302
    db.session.expire_all()
    stored = db.session.get(Event, event.id)
    assert (stored.title, stored.end_time) == ("Overnight camp 2", SECOND_0130)
