"""The week view (issue 11): /timetable shows Monday to Sunday in the viewer's zone, each session on the local day
it starts (across midnight and DST changes), previous / next week, the filters of /sessions, visibility, and a
constant number of SQL statements."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from portal.extensions import db
from portal.training.models import SessionStatus
from tests.test_sql_counts import counted


def _days(html: str) -> dict[str, list[str]]:
    """{'2026-10-19': ['Title', ...], ...} as the grid shows them."""
    days = {}
    for match in re.finditer(r'data-day="([0-9-]+)"(.*?)</section>', html, re.S):
        days[match.group(1)] = re.findall(r"<strong>([^<]+)</strong>", match.group(2))
    return days


def test_this_week_by_default_monday_to_sunday(client, login_as, make_session, clock):
    login_as("member", timezone="Europe/Berlin")  # clock: Tue 1 Dec 2026, 10:00 in Berlin
    make_session(title="Tuesday class", start_time=datetime(2026, 12, 1, 17, 0, tzinfo=UTC))
    make_session(title="Next Monday", start_time=datetime(2026, 12, 7, 17, 0, tzinfo=UTC))
    response = client.get("/timetable")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    days = _days(html)
    assert list(days) == [f"2026-{d}" for d in ("11-30", "12-01", "12-02", "12-03", "12-04", "12-05", "12-06")]
    assert days["2026-12-01"] == ["Tuesday class"]
    assert "Next Monday" not in html
    assert 'href="/timetable?week=2026-W48" rel="prev"' in html
    assert 'href="/timetable?week=2026-W50" rel="next"' in html
    assert "18:00 CET" in html  # the time in the viewer's zone
    assert "css/timetable.css" in html
    assert 'aria-current="page">Timetable</a>' in html  # reached from the main navigation
    days = _days(client.get("/timetable?week=2026-W50").get_data(as_text=True))
    assert days["2026-12-07"] == ["Next Monday"]
    assert _days(client.get("/timetable?start=2026-12-10").get_data(as_text=True)) == days  # any day of the week


def test_dst_week_in_berlin_puts_sessions_on_their_local_day(client, login_as, make_session, clock):
    """Week 2026-W43 ends on Sunday 25 October, when Berlin's clocks go back (CEST +2 -> CET +1)."""
    login_as("member", timezone="Europe/Berlin")
    make_session(title="Before the week", start_time=datetime(2026, 10, 18, 21, 30, tzinfo=UTC))  # Sun 23:30 CEST
    make_session(title="Monday early", start_time=datetime(2026, 10, 18, 22, 30, tzinfo=UTC))  # Mon 00:30 CEST
    make_session(title="Sunday late", start_time=datetime(2026, 10, 25, 22, 30, tzinfo=UTC))  # Sun 23:30 CET
    make_session(title="After the week", start_time=datetime(2026, 10, 25, 23, 15, tzinfo=UTC))  # Mon 00:15 CET
    make_session(title="Sunday repeated hour", start_time=datetime(2026, 10, 25, 0, 30, tzinfo=UTC))  # 02:30 CEST
    make_session(  # Wed 23:30 CEST for 90 minutes: across midnight, on the day it starts
        title="Across midnight", start_time=datetime(2026, 10, 21, 21, 30, tzinfo=UTC), duration_minutes=90
    )
    html = client.get("/timetable?week=2026-W43").get_data(as_text=True)
    days = _days(html)
    assert days["2026-10-19"] == ["Monday early"]
    assert days["2026-10-21"] == ["Across midnight"]
    assert days["2026-10-25"] == ["Sunday repeated hour", "Sunday late"]
    assert "Before the week" not in html and "After the week" not in html
    assert "23:30 CET" in html and "02:30 CEST" in html
    assert _days(client.get("/timetable?week=2026-W44").get_data(as_text=True))["2026-10-26"] == ["After the week"]


def test_the_same_moment_lands_on_another_day_in_another_zone(client, login_as, make_session, make_user, clock):
    make_session(title="Late in Berlin", start_time=datetime(2026, 12, 6, 22, 30, tzinfo=UTC))  # Sun 23:30 CET
    login_as("member", timezone="Europe/Berlin")
    assert _days(client.get("/timetable?week=2026-W49").get_data(as_text=True))["2026-12-06"] == ["Late in Berlin"]
    login_as("member", timezone="Asia/Tokyo")  # Mon 7 Dec 07:30 JST: next week
    assert "Late in Berlin" not in client.get("/timetable?week=2026-W49").get_data(as_text=True)
    assert _days(client.get("/timetable?week=2026-W50").get_data(as_text=True))["2026-12-07"] == ["Late in Berlin"]
    login_as("member", timezone="America/New_York")  # Sun 17:30 EST
    assert _days(client.get("/timetable?week=2026-W49").get_data(as_text=True))["2026-12-06"] == ["Late in Berlin"]


def test_anonymous_zone_is_the_browsers(client, make_session, clock):
    make_session(title="Open class", start_time=datetime(2026, 12, 6, 22, 30, tzinfo=UTC), is_public=True)
    client.set_cookie("tz", "Asia%2FTokyo")
    html = client.get("/timetable?week=2026-W50").get_data(as_text=True)
    assert _days(html)["2026-12-07"] == ["Open class"]
    assert "Asia/Tokyo" in html


def test_filters_and_visibility(client, login_as, make_session, make_user, clock):
    kim = make_user("instructor", name="Kim Sensei")
    make_session(title="Public kata", tags=["kata"], instructor=kim, start_in=timedelta(days=1), is_public=True)
    make_session(title="Members kata", tags=["kata"], instructor=kim, start_in=timedelta(days=2))
    make_session(title="Canceled kumite", tags=["kumite"], start_in=timedelta(days=3), status="canceled")
    html = client.get("/timetable").get_data(as_text=True)  # anonymous
    assert "Public kata" in html and "Members kata" not in html
    login_as("member")
    html = client.get("/timetable").get_data(as_text=True)
    assert "Members kata" in html and "Canceled kumite" in html
    assert "Kim Sensei" in html and "no seat limit" in html
    html = client.get("/timetable", query_string={"tag": "kata", "q": "members"}).get_data(as_text=True)
    assert "Members kata" in html and "Public kata" not in html and "Canceled kumite" not in html
    html = client.get("/timetable", query_string={"status": "canceled"}).get_data(as_text=True)
    assert "Canceled kumite" in html and "kata" not in html.split('class="timetable"')[1]
    html = client.get("/timetable", query_string={"instructor_id": kim.id, "week": "2026-W49"}).get_data(as_text=True)
    assert "Members kata" in html and "Canceled kumite" not in html
    # the week links keep the filters
    assert f'href="/timetable?week=2026-W50&amp;instructor_id={kim.id}" rel="next"' in html


@pytest.mark.parametrize(
    "query", ["week=2026-W60", "week=26-W01", "week=2026W49", "start=2026-02-30", "start=tomorrow", "week=0001-W01"]
)
def test_malformed_week_is_a_message_and_this_week(client, login_as, make_session, clock, query):
    login_as("member")
    make_session(title="This week's class", start_in=timedelta(days=1))
    response = client.get(f"/timetable?{query}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Give a week as 2026-W49 or a day as YYYY-MM-DD." in html
    assert "This week&#39;s class" in html


def test_malformed_filter_is_a_message(client, login_as, clock):
    login_as("member")
    response = client.get("/timetable?from=2026-02-30")
    assert response.status_code == 400
    assert "No such date." in response.get_data(as_text=True)


@pytest.mark.parametrize("who", ["anonymous", "member"])
def test_week_view_asks_a_constant_number_of_statements(client, login_as, make_session, make_user, who, clock):
    if who == "member":
        login_as("member")
    teacher = make_user("instructor")

    def add(n: int) -> None:
        for i in range(n):
            make_session(
                title=f"Class {i}",
                instructor=make_user("instructor"),
                start_time=datetime(2026, 12, 1 + i % 6, 8 + i % 10, tzinfo=UTC),
                is_public=True,
                capacity=10,
            )
            make_session(
                title=f"Ended {i}",
                instructor=teacher,
                start_time=datetime(2026, 11, 30, 6, tzinfo=UTC),
                status=SessionStatus.ENDED.value,
                is_public=True,
            )

    add(3)
    client.get("/timetable?tag=x")
    for path in ("/timetable", "/timetable?q=class&status=scheduled"):
        with counted() as few:
            assert client.get(path).status_code == 200
        add(10)
        db.session.expire_all()
        with counted() as many:
            html = client.get(path).get_data(as_text=True)
        assert html.count('class="timetable-session') >= 13
        assert len(many) == len(few), many
