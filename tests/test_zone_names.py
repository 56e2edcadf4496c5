"""Zones are shown by a name people read: no bare "-03" (issue 16, item 9), and the picker offers cities grouped by
region (issue 10's profile time zone), on every form that takes a zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from portal.core.timezones import all_timezones, format_local, gmt_offset, zone_abbreviation

WINTER = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SUMMER = datetime(2027, 7, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "when", "shown"),
    [
        ("America/Sao_Paulo", WINTER, "Tue 01 Dec 2026, 09:00 GMT-3"),
        ("Asia/Kathmandu", WINTER, "Tue 01 Dec 2026, 17:45 GMT+5:45"),
        ("Asia/Dubai", WINTER, "Tue 01 Dec 2026, 16:00 GMT+4"),
        ("Europe/Berlin", WINTER, "Tue 01 Dec 2026, 13:00 CET"),
        ("Europe/Berlin", SUMMER, "Thu 01 Jul 2027, 14:00 CEST"),
        ("America/New_York", SUMMER, "Thu 01 Jul 2027, 08:00 EDT"),
        ("UTC", WINTER, "Tue 01 Dec 2026, 12:00 UTC"),
        ("Atlantic/Azores", SUMMER, "Thu 01 Jul 2027, 12:00 GMT"),  # "+00" in summer
    ],
)
def test_times_carry_a_zone_name_people_read(zone, when, shown):
    assert format_local(when, zone) == shown
    assert format_local(when, zone, fmt="time") == shown.split(", ")[1]


def test_no_zone_is_shown_as_a_bare_offset_in_summer_or_winter():
    bare = re.compile(r"^[+-]?\d+$")
    for zone in all_timezones():
        for when in (WINTER, SUMMER):
            name = format_local(when, zone).rsplit(" ", 1)[1]
            assert not bare.match(name), (zone, name)
            assert name == zone_abbreviation(when.astimezone(ZoneInfo(zone)))


def test_offsets_read_as_gmt_plus_or_minus_hours_and_minutes():
    assert [gmt_offset(timedelta(minutes=m)) for m in (0, -180, 330, 345, -570, 780)] == [
        "GMT",
        "GMT-3",
        "GMT+5:30",
        "GMT+5:45",
        "GMT-9:30",
        "GMT+13",
    ]


# ------------------------------------------------------------------------------------------------ the picker's list
def test_the_picker_groups_readable_cities_by_region_and_leaves_out_old_aliases(clock):
    groups = dict(all_timezones().grouped("Europe/Berlin"))
    assert list(groups) == [
        "Africa",
        "Americas",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic Ocean",
        "Australia",
        "Europe",
        "Indian Ocean",
        "Pacific",
        "Universal",
    ]
    labels = {name: label for items in groups.values() for name, label in items}
    assert labels["America/Sao_Paulo"] == "São Paulo, Brazil (GMT-3)"
    assert labels["Europe/Berlin"] == "Berlin, Germany (GMT+1, CET)"
    assert labels["America/Indiana/Knox"] == "Knox, Indiana, United States (GMT-6, CST)"
    assert labels["Asia/Kolkata"] == "Kolkata, India (GMT+5:30, IST)"
    assert labels["UTC"] == "UTC (Coordinated Universal Time)"
    assert not {"US/Eastern", "Asia/Calcutta", "America/Atka", "Europe/Kiev"} & set(labels)
    assert len(labels) == len(set(labels.values())), "one entry per place"
    assert 400 < len(labels) < 450
    europe = [label for _, label in groups["Europe"]]
    assert europe == sorted(europe)


def test_a_current_zone_that_is_an_old_alias_is_still_offered(clock):
    groups = dict(all_timezones().grouped("US/Eastern"))
    assert groups["Other names"] == [("US/Eastern", "US/Eastern: New York, United States (GMT-5, EST)")]


# ------------------------------------------------------------------------------------------------ on the pages
def _picker(html: str, name: str = "timezone") -> str:
    match = re.search(rf'<select id="f-{name}" name="{name}".*?</select>', html, re.S)
    assert match, "the zone field is on the page"
    return match.group(0)


def test_signup_offers_the_grouped_picker_with_the_browsers_zone_chosen(client):
    client.set_cookie("tz", quote("America/Sao_Paulo", safe=""))
    page = client.get("/signup").get_data(as_text=True)
    picker = _picker(page)
    assert '<optgroup label="Americas">' in picker and '<optgroup label="Europe">' in picker
    assert '<option value="America/Sao_Paulo" selected>São Paulo, Brazil (GMT-3)</option>' in picker
    assert picker.count(" selected") == 1
    assert 'class="zone-filter" hidden' in page  # shown by the script only: without it the <select> is the field
    assert "/static/js/zone-picker.js" in page


def test_the_session_and_event_forms_use_the_picker(clock, client, login_as):
    login_as("board_member", timezone="Asia/Kathmandu")
    for url in ("/sessions/new", "/events/new"):
        page = client.get(url).get_data(as_text=True)
        assert '<option value="Asia/Kathmandu" selected>Kathmandu, Nepal (GMT+5:45)</option>' in _picker(page), url
        assert 'id="f-timezone-filter"' in page, url


def test_a_forged_zone_is_refused_escaped_and_not_replaced_by_another(clock, client, login_as):
    login_as("instructor", timezone="UTC")
    page = client.post(
        "/sessions/new",
        data={"title": "x", "start_date": "2027-01-10", "start_clock": "10:00", "timezone": "<b>Mars</b>"},
    ).get_data(as_text=True)
    assert "Choose a valid time zone." in page and "<b>Mars</b>" not in page
    assert '<option value="" selected>Choose a time zone</option>' in _picker(page)  # not some other zone
