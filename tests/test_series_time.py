# ruff: noqa: DTZ001  (a series' dates are naive local wall-clock times, by design)
"""Moving the time of day of a series' following or all dates (issue 11): `local_time` in the series' zone, each
occurrence on its own date (across daylight-saving changes), the rule and its occurrence keys moved with it (no
date made twice later), one batched signal; the series .ics says where an occurrence left the rule with a
RECURRENCE-ID VEVENT, so a calendar program shows every occurrence at its real time."""

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
        "capacity": 4,
        "first_start": "2027-03-22T18:00",  # Berlin's clocks go forward on 28 March 2027
        "time_zone": "Europe/Berlin",
        "weekdays": ["MO", "WE"],
        "count": 6,
    }
    data.update(overrides)
    return data


@pytest.fixture
def made(api_client, clock):
    client, _ = api_client("instructor")
    response = client.post("/api/training/series", json=body())
    assert response.status_code == 201, response.json
    return client, response.json["series"]["id"], response.json["occurrence_ids"]


def local_times(ids) -> list[str]:
    db.session.expire_all()
    return [db.session.get(TrainingSession, i).start_time.astimezone(BERLIN).strftime("%a %d %H:%M") for i in ids]


def calendar_times(data: bytes) -> list[datetime]:
    """What a calendar program shows: the RRULE's dates less EXDATEs, each RECURRENCE-ID replaced by its VEVENT."""
    events = list(Calendar.from_ical(data).walk("VEVENT"))
    master = next(e for e in events if "RECURRENCE-ID" not in e)
    start = master.decoded("DTSTART")
    dates = rruleset()
    dates.rrule(rrulestr(master["RRULE"].to_ical().decode(), dtstart=start))
    exdates = master.get("EXDATE", [])
    for prop in exdates if isinstance(exdates, list) else [exdates]:
        for value in prop.dts:
            dates.exdate(value.dt)
    overrides = {
        e.decoded("RECURRENCE-ID").astimezone(UTC): e.decoded("DTSTART").astimezone(UTC)
        for e in events
        if "RECURRENCE-ID" in e
    }
    assert set(overrides) <= {d.astimezone(UTC) for d in dates}, "a RECURRENCE-ID must name a date of the rule"
    return sorted(overrides.get(d.astimezone(UTC), d.astimezone(UTC)) for d in dates)


def test_all_dates_move_to_the_new_time_of_day_across_the_clock_change(made):
    client, series_id, ids = made
    batched = []
    signals.series_changed.connect(recorder := lambda series, **kw: batched.append(kw))
    try:
        response = client.put(f"/api/training/series/{series_id}?scope=all&from={ids[0]}", json={"local_time": "19:30"})
    finally:
        signals.series_changed.disconnect(recorder)
    assert response.status_code == 200, response.json
    assert response.json["affected_ids"] == ids
    assert local_times(ids) == [
        "Mon 22 19:30",
        "Wed 24 19:30",
        "Mon 29 19:30",
        "Wed 31 19:30",
        "Mon 05 19:30",
        "Wed 07 19:30",
    ]
    assert len(batched) == 1 and batched[0]["action"] == "updated"
    assert set(batched[0]["changes"][ids[0]]) == {"start_time"}
    series = db.session.get(TrainingSeries, series_id)
    assert response.json["series"]["first_start"] == "2027-03-22T19:30"
    assert set(series.instances.values()) == {
        "2027-03-22T19:30",
        "2027-03-24T19:30",
        "2027-03-29T19:30",
        "2027-03-31T19:30",
        "2027-04-05T19:30",
        "2027-04-07T19:30",
    }


def test_following_moves_that_date_and_later_and_the_ics_keeps_the_earlier_ones_at_their_time(made, api_client):
    client, series_id, ids = made
    response = client.put(
        f"/api/training/series/{series_id}?scope=following&from={ids[3]}", json={"local_time": "07:15"}
    )
    assert response.status_code == 200 and response.json["affected_ids"] == ids[3:]
    assert local_times(ids) == [
        "Mon 22 18:00",
        "Wed 24 18:00",
        "Mon 29 18:00",
        "Wed 31 07:15",
        "Mon 05 07:15",
        "Wed 07 07:15",
    ]
    member, _ = api_client("member")
    ics = member.get(f"/training/series/{series_id}.ics")
    assert ics.status_code == 200
    events = list(Calendar.from_ical(ics.data).walk("VEVENT"))
    assert len(events) == 4  # the rule (now 07:15) and the three dates left at 18:00
    exceptions = [e for e in events if "RECURRENCE-ID" in e]
    assert [e.decoded("RECURRENCE-ID").replace(tzinfo=None) for e in exceptions] == [
        datetime(2027, 3, 22, 7, 15),
        datetime(2027, 3, 24, 7, 15),
        datetime(2027, 3, 29, 7, 15),
    ]
    assert {str(e.decoded("RECURRENCE-ID").tzinfo) for e in exceptions} == {"Europe/Berlin"}
    assert len({str(e["UID"]) for e in events}) == 1
    db.session.expire_all()
    real = sorted(db.session.get(TrainingSession, i).start_time for i in ids)
    assert calendar_times(ics.data) == real


def test_one_date_moved_on_its_own_is_a_recurrence_id_and_keeps_its_time_when_all_move(made, api_client):
    client, series_id, ids = made
    moved = client.put(
        f"/api/training/series/{series_id}?scope=this&from={ids[1]}", json={"start_time": "2027-03-24T16:00:00Z"}
    )
    assert moved.status_code == 200
    assert (
        client.put(
            f"/api/training/series/{series_id}?scope=all&from={ids[0]}", json={"local_time": "20:00"}
        ).status_code
        == 200
    )
    assert local_times(ids) == [
        "Mon 22 20:00",
        "Wed 24 17:00",
        "Mon 29 20:00",
        "Wed 31 20:00",
        "Mon 05 20:00",
        "Wed 07 20:00",
    ]
    member, _ = api_client("member")
    data = member.get(f"/training/series/{series_id}.ics").data
    db.session.expire_all()
    assert calendar_times(data) == sorted(db.session.get(TrainingSession, i).start_time for i in ids)


def test_canceled_dates_stay_canceled_and_nothing_is_made_twice_after_a_time_change(made, clock, api_client):
    client, series_id, ids = made
    assert client.delete(f"/api/training/series/{series_id}?scope=this&from={ids[2]}").status_code == 200
    assert (
        client.put(
            f"/api/training/series/{series_id}?scope=all&from={ids[0]}", json={"local_time": "19:00"}
        ).status_code
        == 200
    )
    series = db.session.get(TrainingSeries, series_id)
    assert series.canceled == ["2027-03-29T19:00"]
    clock.shift(timedelta(days=1))
    assert series_ops.extend_series(series) == []  # every date has its session (or is canceled): none made again
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(TrainingSession)) == 6
    member, _ = api_client("member")
    data = member.get(f"/training/series/{series_id}.ics").data
    db.session.expire_all()
    scheduled = sorted(
        s.start_time for s in (db.session.get(TrainingSession, i) for i in ids) if s.status == "scheduled"
    )
    assert calendar_times(data) == scheduled


@pytest.mark.parametrize("value", ["25:00", "7pm", "19:3", 1930, None, "19:30:00", "\uff11\uff19:30", "0\uff19:30"])
def test_a_bad_time_of_day_is_refused_and_nothing_changes(made, value):
    client, series_id, ids = made
    response = client.put(
        f"/api/training/series/{series_id}?scope=all&from={ids[0]}", json={"local_time": value, "title": "X"}
    )
    assert response.status_code == 422 and "local_time" in response.json["error"]["fields"]
    assert set(local_times(ids)) >= {"Mon 22 18:00"} and all(t.endswith("18:00") for t in local_times(ids))
    db.session.expire_all()
    series = db.session.get(TrainingSeries, series_id)
    assert series.first_start == datetime(2027, 3, 22, 18, 0) and series.title == "Kihon"


def test_a_start_time_in_a_series_edit_points_to_local_time(made):
    client, series_id, ids = made
    response = client.put(
        f"/api/training/series/{series_id}?scope=following&from={ids[0]}", json={"start_time": "2027-03-22T19:00:00Z"}
    )
    assert response.status_code == 422 and "local_time" in response.json["error"]["fields"]["start_time"]
