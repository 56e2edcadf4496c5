# ruff: noqa: DTZ001  (a series' first start and its dates are naive local wall-clock times, by design)
"""Training series through the API (issue 11): create (occurrences are ordinary sessions), read, edit and cancel
with each scope, per-occurrence overrides, batched change signal, bad input (per-field errors, nothing stored),
and the series .ics (RRULE, EXDATE, VTIMEZONE) read back by the icalendar parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rruleset, rrulestr
from icalendar import Calendar
from sqlalchemy import func, select

from portal.extensions import db
from portal.training import series as series_ops
from portal.training import signals
from portal.training.models import TrainingSession
from portal.training.series_models import TrainingSeries

BERLIN = ZoneInfo("Europe/Berlin")


def body(**overrides):
    data = {
        "title": "Kihon",
        "duration_minutes": 60,
        "capacity": 2,
        "tags": ["kihon"],
        "first_start": "2027-03-22T18:00",
        "time_zone": "Europe/Berlin",
        "weekdays": ["MO", "WE"],
        "interval_weeks": 1,
        "count": 6,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not ...}


def stored() -> tuple[int, int]:
    return (
        db.session.scalar(select(func.count()).select_from(TrainingSeries)),
        db.session.scalar(select(func.count()).select_from(TrainingSession)),
    )


@pytest.fixture
def instructor_api(api_client, clock):
    return api_client("instructor")


@pytest.fixture
def made(instructor_api):
    client, instructor = instructor_api
    response = client.post("/api/training/series", json=body())
    assert response.status_code == 201, response.json
    return client, instructor, response.json


def sessions_of(ids) -> list[TrainingSession]:
    db.session.expire_all()
    return [db.session.get(TrainingSession, i) for i in ids]


# ------------------------------------------------------------------------------------------------ create / read
def test_creating_a_series_makes_its_occurrences_as_sessions(made):
    client, instructor, data = made
    assert data["series"]["weekdays"] == ["MO", "WE"] and data["series"]["first_start"] == "2027-03-22T18:00"
    ids = data["occurrence_ids"]
    assert len(ids) == 6
    sessions = sessions_of(ids)
    assert [s.start_time.astimezone(BERLIN).strftime("%a %d %b %H:%M") for s in sessions] == [
        "Mon 22 Mar 18:00",
        "Wed 24 Mar 18:00",
        "Mon 29 Mar 18:00",  # after the clocks went forward: still 18:00 in Berlin
        "Wed 31 Mar 18:00",
        "Mon 05 Apr 18:00",
        "Wed 07 Apr 18:00",
    ]
    assert sessions[0].start_time == datetime(2027, 3, 22, 17, tzinfo=UTC)
    assert sessions[2].start_time == datetime(2027, 3, 29, 16, tzinfo=UTC)
    assert {(s.series_id, s.instructor_id, s.capacity, s.duration_minutes, s.status) for s in sessions} == {
        (data["series"]["id"], instructor.id, 2, 60, "scheduled")
    }
    session_json = client.get(f"/api/training/sessions/{ids[0]}").json
    assert session_json["series_id"] == data["series"]["id"]
    got = client.get(f"/api/training/series/{data['series']['id']}")
    assert got.status_code == 200 and got.json["occurrence_ids"] == ids


def test_occurrences_plan_their_own_reminders_and_rooms_through_the_usual_path(instructor_api):
    client, _ = instructor_api
    created = []
    signals.session_created.connect(receiver := lambda s, **_: created.append(s.id))
    try:
        response = client.post("/api/training/series", json=body(count=3))
    finally:
        signals.session_created.disconnect(receiver)
    assert created == response.json["occurrence_ids"]


def test_members_see_a_series_and_anonymous_people_only_a_public_one(made, api_client, client):
    _, _, data = made
    series_id = data["series"]["id"]
    member_client, _ = api_client("member")
    assert member_client.get(f"/api/training/series/{series_id}").status_code == 200
    assert client.get(f"/api/training/series/{series_id}").status_code == 404
    assert client.get(f"/training/series/{series_id}.ics").status_code == 404


def test_members_cannot_create_a_series(api_client, clock):
    member_client, _ = api_client("member")
    assert member_client.post("/api/training/series", json=body()).status_code == 403
    assert stored() == (0, 0)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"weekdays": []}, "weekdays"),
        ({"interval_weeks": 0}, "interval_weeks"),
        ({"interval_weeks": 9}, "interval_weeks"),
        ({"count": 0}, "count"),
        ({"count": 105}, "count"),
        ({"count": ..., "until": "2027-03-01"}, "until"),  # before first_start
        ({"time_zone": "Atlantis/Capital"}, "time_zone"),
        ({"first_start": "2028-02-07T18:00"}, "first_start"),  # every occurrence beyond the horizon
        ({"start_time": "2027-03-22T17:00:00Z"}, "start_time"),
        ({"title": ""}, "title"),
        ({"duration_minutes": 5}, "duration_minutes"),
    ],
)
def test_bad_input_is_refused_per_field_and_nothing_is_stored(instructor_api, change, field):
    client, _ = instructor_api
    response = client.post("/api/training/series", json=body(**change))
    assert response.status_code in (400, 422)
    assert field in response.json["error"]["fields"]
    assert stored() == (0, 0)


def test_several_errors_come_back_together(instructor_api):
    client, _ = instructor_api
    response = client.post("/api/training/series", json=body(weekdays=[], title="", count=0))
    assert set(response.json["error"]["fields"]) >= {"weekdays", "title", "count"}


# ------------------------------------------------------------------------------------------------ scope checks
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("scope=all", "from"),
        ("", "scope"),
        ("scope=everything&from={first}", "scope"),
        ("scope=this&from=abc", "from"),
        ("scope=this&from={other}", "from"),
    ],
)
def test_scope_and_from_are_checked(made, query, field):
    client, _, data = made
    other = client.post("/api/training/series", json=body(title="Kata")).json["occurrence_ids"][0]
    url = f"/api/training/series/{data['series']['id']}?" + query.format(first=data["occurrence_ids"][0], other=other)
    for response in (client.put(url, json={"title": "Changed"}), client.delete(url)):
        assert response.status_code in (400, 422) and field in response.json["error"]["fields"]
    assert {s.title for s in sessions_of(data["occurrence_ids"])} == {"Kihon"}
    assert {s.status for s in sessions_of(data["occurrence_ids"])} == {"scheduled"}


def test_someone_else_cannot_edit_or_cancel_the_series(made, api_client):
    _, _, data = made
    other, _ = api_client("instructor")
    url = f"/api/training/series/{data['series']['id']}?scope=all&from={data['occurrence_ids'][0]}"
    assert other.put(url, json={"title": "Mine"}).status_code == 403
    assert other.delete(url).status_code == 403


# ------------------------------------------------------------------------------------------------ edit
def test_edit_this_changes_one_occurrence(made):
    client, _, data = made
    ids = data["occurrence_ids"]
    url = f"/api/training/series/{data['series']['id']}?scope=this&from={ids[1]}"
    new_start = datetime(2027, 3, 24, 18, 30, tzinfo=UTC).isoformat()
    response = client.put(url, json={"title": "Guest teacher", "start_time": new_start})
    assert response.status_code == 200, response.json
    sessions = sessions_of(ids)
    assert [s.title for s in sessions] == ["Kihon", "Guest teacher", "Kihon", "Kihon", "Kihon", "Kihon"]
    assert sessions[1].start_time == datetime(2027, 3, 24, 18, 30, tzinfo=UTC)


def test_edit_following_changes_that_one_and_later_ones(made):
    client, _, data = made
    ids = data["occurrence_ids"]
    url = f"/api/training/series/{data['series']['id']}?scope=following&from={ids[3]}"
    response = client.put(url, json={"capacity": 5, "duration_minutes": 90})
    assert response.status_code == 200 and response.json["affected_ids"] == ids[3:]
    assert [s.capacity for s in sessions_of(ids)] == [2, 2, 2, 5, 5, 5]
    assert [s.duration_minutes for s in sessions_of(ids)] == [60, 60, 60, 90, 90, 90]
    series = db.session.get(TrainingSeries, data["series"]["id"])
    assert series.capacity == 5  # occurrences made later take the new values


def test_an_occurrence_edited_on_its_own_keeps_its_change_when_all_are_edited(made):
    client, _, data = made
    ids = data["occurrence_ids"]
    series_url = f"/api/training/series/{data['series']['id']}"
    assert client.put(f"{series_url}?scope=this&from={ids[2]}", json={"title": "Exam"}).status_code == 200
    response = client.put(f"{series_url}?scope=all&from={ids[0]}", json={"title": "Kihon II", "capacity": 4})
    assert response.status_code == 200
    sessions = sessions_of(ids)
    assert [s.title for s in sessions] == ["Kihon II", "Kihon II", "Exam", "Kihon II", "Kihon II", "Kihon II"]
    assert {s.capacity for s in sessions} == {4}  # the field it did not change on its own follows the series


def test_edit_all_leaves_ended_and_canceled_occurrences_alone(made):
    client, _, data = made
    ids = data["occurrence_ids"]
    sessions_of(ids)[0].status = "ended"
    db.session.commit()
    url = f"/api/training/series/{data['series']['id']}?scope=all&from={ids[1]}"
    assert client.put(url, json={"title": "Renamed"}).status_code == 200
    assert [s.title for s in sessions_of(ids)][:2] == ["Kihon", "Renamed"]


def test_a_series_edit_sends_one_batched_signal_and_no_per_session_notice_context(made):
    client, _, data = made
    ids = data["occurrence_ids"]
    batched, per_session = [], []

    def on_series(series, **kwargs):
        batched.append(kwargs)

    def on_session(session, **_):
        per_session.append(signals.in_series_change())

    signals.series_changed.connect(on_series)
    signals.session_updated.connect(on_session)
    try:
        url = f"/api/training/series/{data['series']['id']}?scope=following&from={ids[4]}"
        assert client.put(url, json={"description": "Bring a belt"}).status_code == 200
    finally:
        signals.series_changed.disconnect(on_series)
        signals.session_updated.disconnect(on_session)
    assert len(batched) == 1 and batched[0]["action"] == "updated" and batched[0]["session_ids"] == ids[4:]
    assert set(batched[0]["changes"]) == set(ids[4:])
    assert per_session == [True, True]  # per-session receivers can tell they are part of the batch
    assert not signals.in_series_change()


def test_an_edit_that_fails_on_one_occurrence_stores_nothing(made, make_user, make_seat):
    client, _, data = made
    ids = data["occurrence_ids"]
    full = sessions_of(ids)[4]
    make_seat(full, make_user("member"))
    make_seat(full, make_user("member"))
    url = f"/api/training/series/{data['series']['id']}?scope=all&from={ids[0]}"
    response = client.put(url, json={"capacity": 1, "title": "Smaller"})
    assert response.status_code == 422 and "capacity" in response.json["error"]["fields"]
    assert {s.title for s in sessions_of(ids)} == {"Kihon"} and {s.capacity for s in sessions_of(ids)} == {2}


def test_following_and_all_refuse_fields_of_one_occurrence(made):
    client, _, data = made
    url = f"/api/training/series/{data['series']['id']}?scope=all&from={data['occurrence_ids'][0]}"
    response = client.put(url, json={"start_time": "2027-03-22T19:00:00Z"})
    assert response.status_code == 422 and "start_time" in response.json["error"]["fields"]


# ------------------------------------------------------------------------------------------------ cancel
def test_cancel_this_cancels_one_and_records_its_date(made):
    client, _, data = made
    ids = data["occurrence_ids"]
    response = client.delete(f"/api/training/series/{data['series']['id']}?scope=this&from={ids[1]}")
    assert response.status_code == 200
    assert [s.status for s in sessions_of(ids)] == ["scheduled", "canceled"] + ["scheduled"] * 4
    assert response.json["series"]["canceled_dates"] == ["2027-03-24T18:00"]


def test_cancel_following_cancels_the_rest_and_ends_the_rule(made):
    client, _, data = made
    ids = data["occurrence_ids"]
    batched = []
    signals.series_changed.connect(receiver := lambda series, **kw: batched.append(kw))
    try:
        response = client.delete(f"/api/training/series/{data['series']['id']}?scope=following&from={ids[2]}")
    finally:
        signals.series_changed.disconnect(receiver)
    assert response.status_code == 200 and response.json["affected_ids"] == ids[2:]
    assert [s.status for s in sessions_of(ids)] == ["scheduled"] * 2 + ["canceled"] * 4
    assert response.json["series"]["until"] == "2027-03-28" and response.json["series"]["count"] is None
    assert len(batched) == 1 and batched[0]["action"] == "canceled" and batched[0]["session_ids"] == ids[2:]
    released_since = batched[0]["at"]  # the seats this cancel released are those canceled at or after it
    assert all(s.updated_at >= released_since for s in sessions_of(ids[2:]))


def test_cancel_all_cancels_every_occurrence_not_over(made):
    client, _, data = made
    ids = data["occurrence_ids"]
    response = client.delete(f"/api/training/series/{data['series']['id']}?scope=all&from={ids[3]}")
    assert response.status_code == 200
    assert {s.status for s in sessions_of(ids)} == {"canceled"}
    assert response.json["series"]["canceled_at"] is not None
    assert series_ops.extend_series(db.session.get(TrainingSeries, data["series"]["id"])) == []


# ------------------------------------------------------------------------------------------------ later occurrences
def test_occurrences_beyond_the_horizon_are_made_as_it_moves_on(instructor_api, clock):
    client, _ = instructor_api
    response = client.post("/api/training/series", json=body(first_start="2027-11-22T18:00", weekdays=["MO"], count=4))
    assert response.status_code == 201
    series = db.session.get(TrainingSeries, response.json["series"]["id"])
    assert len(response.json["occurrence_ids"]) == 2  # 22 and 29 Nov 2027; 6 and 13 Dec are past 365 days
    clock.shift(timedelta(days=14))
    made_now = series_ops.extend_series(series)
    db.session.commit()
    assert len(made_now) == 2 and {s.series_id for s in made_now} == {series.id}
    assert series_ops.extend_series(series) == []  # made once
    assert series_ops.extend_job() == 0


def test_the_daily_job_makes_the_occurrences_that_came_within_the_horizon(instructor_api, clock):
    client, _ = instructor_api
    response = client.post("/api/training/series", json=body(first_start="2027-11-22T18:00", weekdays=["MO"]))
    assert len(response.json["occurrence_ids"]) == 2
    clock.shift(timedelta(days=7))
    assert series_ops.extend_job() == 1
    assert series_ops.extend_job() == 0
    assert stored() == (1, 3)


# ------------------------------------------------------------------------------------------------ .ics
def test_the_series_ics_has_one_vevent_with_rrule_exdate_and_vtimezone(made, api_client):
    client, _, data = made
    ids = data["occurrence_ids"]
    client.delete(f"/api/training/series/{data['series']['id']}?scope=this&from={ids[2]}")
    member_client, _ = api_client("member")
    response = member_client.get(f"/training/series/{data['series']['id']}.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    events = list(calendar.walk("VEVENT"))
    zones = list(calendar.walk("VTIMEZONE"))
    assert len(events) == 1 and [str(z["TZID"]) for z in zones] == ["Europe/Berlin"]
    event = events[0]
    assert event["RRULE"]["FREQ"] == ["WEEKLY"] and event["RRULE"]["BYDAY"] == ["MO", "WE"]
    assert event["RRULE"]["COUNT"] == [6]
    start = event.decoded("DTSTART")
    assert start.replace(tzinfo=None) == datetime(2027, 3, 22, 18, 0) and str(start.tzinfo) == "Europe/Berlin"
    exdate_props = event["EXDATE"] if isinstance(event["EXDATE"], list) else [event["EXDATE"]]
    exdates = [d.dt for prop in exdate_props for d in prop.dts]
    assert [d.replace(tzinfo=None) for d in exdates] == [datetime(2027, 3, 29, 18, 0)]
    # what a calendar program makes of it: the scheduled occurrences, to the minute
    dates = rruleset()
    dates.rrule(rrulestr(event["RRULE"].to_ical().decode(), dtstart=start))
    for exdate in exdates:
        dates.exdate(exdate)
    scheduled = [s.start_time for s in sessions_of(ids) if s.status == "scheduled"]
    assert [d.astimezone(UTC) for d in dates] == scheduled
