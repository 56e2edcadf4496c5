# ruff: noqa: DTZ001  (a series' first start and its dates are naive local wall-clock times, by design)
"""Occurrences of a weekly series (portal.training.recurrence): local wall-clock kept across both DST changes in
three hemispheres' zones, the RFC 5545 reading of skipped and repeated local times, the horizon, and the rule's
checks; then properties over zones and rules (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.training.recurrence import HORIZON, WEEKDAYS, Rule, beyond_horizon, check_rule, occurrences

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def starts(rule: Rule) -> list[datetime]:
    return [o.start for o in occurrences(rule, now=NOW)]


def local_times(rule: Rule) -> list[str]:
    zone = ZoneInfo(rule.time_zone)
    return [f"{o.start.astimezone(zone):%Y-%m-%d %H:%M %Z}" for o in occurrences(rule, now=NOW)]


# ------------------------------------------------------------------------------------------------ DST, by example
@pytest.mark.parametrize(
    ("zone", "first", "expected"),
    [
        # Berlin springs forward on Sun 28 Mar 2027 and falls back on Sun 31 Oct 2027: 18:00 stays 18:00
        (
            "Europe/Berlin",
            datetime(2027, 3, 26, 18, 0),
            [utc(2027, 3, 26, 17), utc(2027, 3, 29, 16), utc(2027, 4, 2, 16)],
        ),
        (
            "Europe/Berlin",
            datetime(2027, 10, 29, 18, 0),
            [utc(2027, 10, 29, 16), utc(2027, 11, 1, 17), utc(2027, 11, 5, 17)],
        ),
        # New York: forward on Sun 14 Mar 2027, back on Sun 7 Nov 2027
        (
            "America/New_York",
            datetime(2027, 3, 12, 18, 0),
            [utc(2027, 3, 12, 23), utc(2027, 3, 15, 22), utc(2027, 3, 19, 22)],
        ),
        (
            "America/New_York",
            datetime(2027, 11, 5, 18, 0),
            [utc(2027, 11, 5, 22), utc(2027, 11, 8, 23), utc(2027, 11, 12, 23)],
        ),
        # Sydney (southern hemisphere): back on Sun 4 Apr 2027 (AEDT+11 -> AEST+10), forward on Sun 3 Oct 2027
        (
            "Australia/Sydney",
            datetime(2027, 4, 2, 18, 0),
            [utc(2027, 4, 2, 7), utc(2027, 4, 5, 8), utc(2027, 4, 9, 8)],
        ),
        (
            "Australia/Sydney",
            datetime(2027, 10, 1, 18, 0),
            [utc(2027, 10, 1, 8), utc(2027, 10, 4, 7), utc(2027, 10, 8, 7)],
        ),
    ],
)
def test_local_time_is_kept_across_both_dst_changes(zone, first, expected):
    rule = Rule(first, zone, ("MO", "FR"), 1, count=3)
    assert starts(rule) == expected
    assert {text[11:16] for text in local_times(rule)} == {"18:00"}


@pytest.mark.parametrize(
    ("zone", "first", "expected_local"),
    [
        ("Europe/Berlin", datetime(2027, 3, 21, 2, 30), ["02:30 CET", "03:30 CEST", "02:30 CEST"]),
        ("America/New_York", datetime(2027, 3, 7, 2, 30), ["02:30 EST", "03:30 EDT", "02:30 EDT"]),
        ("Australia/Sydney", datetime(2027, 9, 26, 2, 30), ["02:30 AEST", "03:30 AEDT", "02:30 AEDT"]),
    ],
)
def test_a_time_the_clocks_skip_moves_forward_by_the_gap_that_day_only(zone, first, expected_local):
    rule = Rule(first, zone, ("SU",), 1, count=3)
    assert [text[11:] for text in local_times(rule)] == expected_local


@pytest.mark.parametrize(
    ("zone", "first", "repeated"),
    [
        ("Europe/Berlin", datetime(2027, 10, 24, 2, 30), utc(2027, 10, 31, 0, 30)),  # 02:30 CEST, not CET
        ("America/New_York", datetime(2027, 10, 31, 1, 30), utc(2027, 11, 7, 5, 30)),  # 01:30 EDT, not EST
        ("Australia/Sydney", datetime(2027, 3, 28, 2, 30), utc(2027, 4, 3, 15, 30)),  # 02:30 AEDT, not AEST
    ],
)
def test_a_time_that_happens_twice_is_its_first_reading(zone, first, repeated):
    rule = Rule(first, zone, ("SU",), 1, count=2)
    assert starts(rule)[1] == repeated


def test_interval_weeks_and_until_include_the_last_day():
    rule = Rule(datetime(2027, 1, 4, 18, 0), "Europe/Berlin", ("MO",), 2, until=date(2027, 2, 1))
    assert [o.local.date() for o in occurrences(rule, now=NOW)] == [
        date(2027, 1, 4),
        date(2027, 1, 18),
        date(2027, 2, 1),
    ]


def test_occurrences_beyond_the_horizon_are_left_out():
    rule = Rule(datetime(2027, 11, 1, 18, 0), "Europe/Berlin", ("MO",), 1, count=10)
    found = occurrences(rule, now=NOW)
    assert found and all(o.start <= NOW + HORIZON for o in found) and len(found) < 10
    assert beyond_horizon(rule, now=NOW)


# ------------------------------------------------------------------------------------------------ the rule's checks
GOOD = {
    "first_start": "2027-01-04T18:00",
    "time_zone": "Europe/Berlin",
    "weekdays": ["MO", "WE"],
    "interval_weeks": 1,
    "count": 10,
}


def test_a_good_rule_is_read():
    rule, errors = check_rule(GOOD, now=NOW)
    assert errors == {} and rule == Rule(datetime(2027, 1, 4, 18), "Europe/Berlin", ("MO", "WE"), 1, 10, None)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"weekdays": []}, "weekdays"),
        ({"weekdays": ["XX"]}, "weekdays"),
        ({"weekdays": "MO"}, "weekdays"),
        ({"interval_weeks": 0}, "interval_weeks"),
        ({"interval_weeks": 9}, "interval_weeks"),
        ({"interval_weeks": True}, "interval_weeks"),
        ({"count": 0}, "count"),
        ({"count": 105}, "count"),
        ({"count": None}, "count"),
        ({"until": "2027-01-01"}, "until"),  # both count and until
        ({"count": None, "until": "2027-01-03"}, "until"),  # before the first start
        ({"count": None, "until": "2028-06-01"}, "until"),  # beyond 365 days
        ({"count": None, "until": "01/02/2027"}, "until"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": "Europe"}, "time_zone"),
        ({"first_start": "2027-01-04T18:00+01:00"}, "first_start"),
        ({"first_start": "tomorrow"}, "first_start"),
        ({"first_start": "2026-11-30T18:00"}, "first_start"),  # in the past
        ({"first_start": "2028-01-03T18:00"}, "first_start"),  # every occurrence beyond the horizon
    ],
)
def test_bad_rules_are_refused_per_field(change, field):
    rule, errors = check_rule({**GOOD, **change}, now=NOW)
    assert rule is None and field in errors


# ------------------------------------------------------------------------------------------------ properties
ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Australia/Lord_Howe",  # a 30-minute DST change
    "America/Santiago",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "UTC",
]


@st.composite
def rules_(draw) -> Rule:
    zone = draw(st.sampled_from(ZONES))
    day = draw(st.dates(min_value=date(2026, 12, 2), max_value=date(2028, 1, 31)))
    clock = draw(st.tuples(st.integers(0, 23), st.sampled_from([0, 15, 30, 45])))
    weekdays = draw(st.sets(st.sampled_from(WEEKDAYS), min_size=1))
    interval = draw(st.integers(1, 4))
    if draw(st.booleans()):
        count, until = draw(st.integers(1, 104)), None
    else:
        count, until = None, day + timedelta(days=draw(st.integers(0, 365)))
    first = datetime(day.year, day.month, day.day, *clock)
    return Rule(first, zone, tuple(d for d in WEEKDAYS if d in weekdays), interval, count, until)


@settings(max_examples=300, deadline=None)
@given(rule=rules_())
def test_occurrence_properties(rule):
    zone = ZoneInfo(rule.time_zone)
    found = occurrences(rule, now=NOW)
    moments = [o.start for o in found]
    assert moments == sorted(set(moments)), "strictly increasing"
    assert all(m <= NOW + HORIZON for m in moments), "within the horizon"
    if rule.count is not None:
        assert len(found) <= rule.count
        if not beyond_horizon(rule, now=NOW):
            assert len(found) == rule.count, "count honoured"
    if rule.until is not None:
        assert all(o.local.date() <= rule.until for o in found)
    for o in found:
        assert o.local >= rule.first_start
        assert WEEKDAYS[o.local.weekday()] in rule.weekdays, "weekdays respected"
        assert (o.local.hour, o.local.minute) == (rule.first_start.hour, rule.first_start.minute)
        wall = o.start.astimezone(zone).replace(tzinfo=None)
        first_reading = o.local.replace(tzinfo=zone, fold=0).astimezone(UTC)
        second_reading = o.local.replace(tzinfo=zone, fold=1).astimezone(UTC)
        if wall == o.local:  # local time kept (a repeated time: its first reading)
            assert o.start == min(first_reading, second_reading)
        else:  # skipped by the clocks: moved forward by the gap, the same day
            assert first_reading > second_reading, "only a skipped time moves"
            assert timedelta(0) < wall - o.local <= timedelta(hours=2) and wall.date() == o.local.date()


@settings(max_examples=100, deadline=None)
@given(rule=rules_())
def test_rrule_text_round_trips_through_dateutil(rule):
    text = rule.rrule_text()
    reread = rrulestr(f"RRULE:{text}", dtstart=rule.first_start.replace(tzinfo=ZoneInfo(rule.time_zone)))
    expected = list(rule.rrule())
    got = [d.replace(tzinfo=None) for d in reread]
    if rule.until is None:
        assert got == expected
    else:  # UNTIL is the last local second of the until day, in UTC: the same dates
        assert [d.date() for d in got] == [d.date() for d in expected]
