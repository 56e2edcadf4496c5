"""The scheduling form's "Repeats weekly" part (issue 11): the date preview in the form's zone (local time kept
across daylight-saving changes, a time the clocks skip moved forward and said so; nothing stored), saving creates
the series and its sessions, per-field errors re-render with nothing stored, and only schedulers see the part."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.training.models import TrainingSession
from portal.training.series_models import TrainingSeries
from tests.conftest import csrf_token


def series_form(**overrides):
    data = {
        "title": "Kihon",
        "description": "Basics",
        "start_date": "2027-03-22",  # a Monday; Berlin moves its clocks forward on Sunday 2027-03-28
        "start_clock": "18:00",
        "timezone": "Europe/Berlin",
        "duration_minutes": "60",
        "capacity": "12",
        "tags": "kihon",
        "members_only": "on",
        "chat_enabled": "on",
        "event_id": "",
        "repeats": "on",
        "weekdays": ["MO", "WE"],
        "interval_weeks": "1",
        "ends": "count",
        "count": "6",
        "until": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def post(client, data, **kwargs):
    return client.post("/sessions/new", data={**data, "csrf_token": csrf_token(client)}, **kwargs)


def stored() -> tuple[int, int]:
    return (
        db.session.scalar(select(func.count()).select_from(TrainingSeries)),
        db.session.scalar(select(func.count()).select_from(TrainingSession)),
    )


def preview_dates(html: str) -> list[str]:
    block = re.search(r'<ol class="preview-dates">(.*?)</ol>', html, re.S)
    assert block, "the preview lists the dates"
    return re.findall(r"<time [^>]*>([^<]+)</time>", block.group(1))


@pytest.fixture
def instructor(login_as, clock):
    return login_as("instructor")


@pytest.mark.parametrize("role", ["instructor", "board_member", "admin"])
def test_the_form_offers_the_repeat_part_to_schedulers(client, login_as, clock, role):
    login_as(role)
    page = client.get("/sessions/new").get_data(as_text=True)
    assert 'name="repeats"' in page and 'name="preview"' in page
    assert all(f'value="{day}"' in page for day in ("MO", "TU", "WE", "TH", "FR", "SA", "SU"))
    assert 'name="interval_weeks"' in page and 'name="count"' in page and 'name="until"' in page


@pytest.mark.parametrize("role", ["public", "member"])
def test_others_neither_see_nor_post_the_repeat_part(client, login_as, clock, role):
    login_as(role)
    page = client.get("/sessions/new")
    assert page.status_code in (302, 403) and 'name="repeats"' not in page.get_data(as_text=True)
    assert post(client, series_form()).status_code in (302, 403)
    assert stored() == (0, 0)


def test_the_preview_lists_the_dates_in_the_zone_keeping_the_local_time(client, instructor):
    response = post(client, series_form(preview="1"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert preview_dates(html) == [
        "Mon 22 Mar 2027, 18:00 CET",
        "Wed 24 Mar 2027, 18:00 CET",
        "Mon 29 Mar 2027, 18:00 CEST",  # after the clocks moved: still 18:00 in Berlin
        "Wed 31 Mar 2027, 18:00 CEST",
        "Mon 05 Apr 2027, 18:00 CEST",
        "Wed 07 Apr 2027, 18:00 CEST",
    ]
    assert "6 sessions, in Europe/Berlin" in html and "does not exist" not in html
    assert stored() == (0, 0)
    # the form comes back as it was sent: nothing lost
    assert 'value="MO" id="f-weekdays-MO" checked' in html and 'value="TU" id="f-weekdays-TU">' in html


def test_the_preview_follows_the_zone_of_the_form(client, instructor):
    html = post(client, series_form(preview="1", timezone="America/New_York", count="2")).get_data(as_text=True)
    assert preview_dates(html) == ["Mon 22 Mar 2027, 18:00 EDT", "Wed 24 Mar 2027, 18:00 EDT"]


def test_the_preview_says_when_a_time_falls_in_the_clock_change_gap(client, instructor):
    data = series_form(preview="1", start_date="2027-03-21", start_clock="02:30", weekdays=["SU"], count="3")
    html = post(client, data).get_data(as_text=True)
    assert preview_dates(html) == [
        "Sun 21 Mar 2027, 02:30 CET",
        "Sun 28 Mar 2027, 03:30 CEST",
        "Sun 04 Apr 2027, 02:30 CEST",
    ]
    assert html.count('class="moved"') == 1
    assert "02:30 does not exist that day (the clocks move forward); the session starts at 03:30." in html
    assert stored() == (0, 0)


def test_the_preview_works_with_the_repeat_box_unticked(client, instructor):
    response = post(client, series_form(preview="1", repeats=None, count="2"))
    assert response.status_code == 200 and len(preview_dates(response.get_data(as_text=True))) == 2
    assert stored() == (0, 0)


def test_saving_creates_the_series_and_its_sessions(client, instructor):
    response = post(client, series_form())
    assert response.status_code == 302
    sessions = list(db.session.scalars(select(TrainingSession).order_by(TrainingSession.start_time)))
    assert len(sessions) == 6 and len({s.series_id for s in sessions}) == 1 and sessions[0].series_id is not None
    assert response.headers["Location"].endswith(f"/sessions/{sessions[0].id}")
    assert [s.start_time.hour for s in sessions] == [17, 17, 16, 16, 16, 16]  # 18:00 Berlin, CET then CEST (UTC)
    assert {(s.title, s.capacity, s.instructor_id) for s in sessions} == {("Kihon", 12, instructor.id)}
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Weekly class created: 6 sessions from Mon 22 Mar 2027 to Wed 07 Apr 2027 (Europe/Berlin)." in page
    assert "Part of a weekly class" in page


def test_saving_with_an_end_date(client, instructor):
    assert post(client, series_form(ends="until", until="2027-03-31", count="")).status_code == 302
    assert stored() == (1, 4)


def test_without_the_repeat_box_one_session_is_scheduled(client, instructor):
    assert post(client, series_form(repeats=None)).status_code == 302
    assert stored() == (0, 1)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"weekdays": None}, "weekdays", "Choose at least one weekday"),
        ({"interval_weeks": "0"}, "interval_weeks", "Repeat every 1 to 4 weeks."),
        ({"interval_weeks": "9"}, "interval_weeks", "Repeat every 1 to 4 weeks."),
        ({"interval_weeks": "two"}, "interval_weeks", "Give the interval as a whole number of weeks."),
        ({"count": "0"}, "count", "The number of occurrences must be between 1 and 104."),
        ({"count": "105"}, "count", "The number of occurrences must be between 1 and 104."),
        ({"count": ""}, "count", "Give the number of sessions as a whole number."),
        ({"ends": "until", "until": "2027-03-01"}, "until", "The end date cannot be before the first start."),
        ({"ends": "until", "until": "2028-03-01"}, "until", "The end date can be at most 365 days ahead."),
        ({"ends": "until", "until": ""}, "until", "Give the end date, or end after a number of sessions."),
        ({"ends": "until", "until": "2027-02-30"}, "until", "Give the end date as YYYY-MM-DD."),
        ({"timezone": "Mars/Olympus"}, "timezone", "Choose a valid IANA time zone"),
        ({"start_date": "2026-11-01"}, "start_time", "The first start must be in the future."),
    ],
)
@pytest.mark.parametrize("preview", [False, True])
def test_bad_input_is_shown_at_its_field_and_nothing_is_stored(client, instructor, changes, field, message, preview):
    data = series_form(**changes, **({"preview": "1"} if preview else {}))
    response = post(client, data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    shown = re.search(rf'<p class="error" id="e-{field}"[^>]*>([^<]*)</p>', html)
    assert shown and message in shown.group(1), html[:0]
    assert stored() == (0, 0)
    assert 'name="title" type="text" value="Kihon"' in html  # the form comes back as sent


def test_a_session_field_error_stores_no_series(client, instructor):
    response = post(client, series_form(title=""))
    assert response.status_code == 422 and 'id="e-title"' in response.get_data(as_text=True)
    assert stored() == (0, 0)
