"""The attendance page part and CSV (SPEC "After the session"): every seat holder and everyone who joined, no-shows
marked, times with their date, minutes and joins; CSV cells defused as every export's; only those
training.rules.can_see_attendance lets see it (others 403, or 404 when they may not see the session at all)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest

from portal.extensions import db
from portal.seats import operations
from portal.seats.attendance import CSV_HEADER
from portal.training import rules

FORMULA_LIKE = re.compile(r'^[\s"]*[=+\-@]')


@pytest.fixture
def ended(make_session, make_user, make_seat, clock):
    """An ended session: Aiko joined for 25 minutes (twice), '=cmd' held a seat and never came."""
    session = make_session(
        instructor=make_user("instructor", name="Sensei"),
        start_in=timedelta(minutes=-60),
        status="live",
        started_at=clock.now() - timedelta(minutes=60),
    )
    aiko = make_user("member", name="Aiko Tanaka", email="aiko@example.org")
    absent = make_user("member", name="=cmd|' /C calc'!A0", email="@absent@example.org")
    make_seat(session, aiko)
    make_seat(session, absent)
    start = clock.now() - timedelta(minutes=55)
    operations.record_join(session, aiko, start)
    operations.record_leave(session, aiko, start + timedelta(minutes=10))
    operations.record_join(session, aiko, start + timedelta(minutes=20))
    operations.record_leave(session, aiko, start + timedelta(minutes=35))
    session.status = "ended"
    session.ended_at = clock.now()
    db.session.commit()
    return session


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_the_csv_lists_who_came_and_the_no_shows_with_dates_minutes_and_joins(client, login_as, ended, clock):
    login_as(ended.instructor)
    response = client.get(f"/sessions/{ended.id}/attendance.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "no-store" in response.headers["Cache-Control"]
    assert f'filename="attendance-session-{ended.id}.csv"' in response.headers["Content-Disposition"]
    header, came, absent = csv_rows(response)
    assert header == list(CSV_HEADER)
    record = dict(zip(header, came, strict=True))
    start = clock.now() - timedelta(minutes=55)
    assert record == {
        "name": "Aiko Tanaka",
        "email": "aiko@example.org",
        "first_joined_at": start.isoformat(),  # a date and a time, in UTC
        "last_left_at": (start + timedelta(minutes=35)).isoformat(),
        "watch_seconds": str(25 * 60),
        "watch_time": "0:25:00",
        "joins": "2",
        "minutes": "25",
        "status": "attended",
    }
    missing = dict(zip(header, absent, strict=True))
    assert missing["status"] == "no_show"
    assert (missing["first_joined_at"], missing["last_left_at"], missing["minutes"], missing["joins"]) == (
        "",
        "",
        "0",
        "0",
    )
    # the no-show's name and email would start formulas: both defused
    assert missing["name"].startswith("'=") and missing["email"] == "'@absent@example.org"
    cells = [cell for row in csv_rows(response) for cell in row]
    assert [cell for cell in cells if FORMULA_LIKE.match(cell)] == []


def test_the_page_part_shows_dates_minutes_and_no_shows(client, htmx, login_as, ended):
    login_as(ended.instructor, client=htmx)
    html = htmx.get(f"/sessions/{ended.id}/attendance").get_data(as_text=True)
    assert "Aiko Tanaka" in html and "No-show" in html and "1 joined · 1 no-show" in html
    assert re.search(r"<time datetime=\"[^\"]+\">\w{3} \d{2} \w{3} \d{4}, \d{2}:\d{2} UTC</time>", html)  # date + time
    assert ">25</td>" in html  # minutes
    assert "=cmd|&#39; /C calc&#39;!A0" in html  # escaped, not raw
    assert "hx-trigger" not in html  # ended: no more refreshing
    login_as(ended.instructor)
    page = client.get(f"/sessions/{ended.id}").get_data(as_text=True)
    assert "No-show" in page and "attendance.csv" in page


ROLES = ("anonymous", "public", "member", "other instructor", "instructor", "board_member", "admin")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("members_only", [False, True])
def test_only_those_the_rule_lets_see_attendance_get_it(client, login_as, make_session, role, members_only):
    session = make_session(is_public=True, members_only=members_only)
    user = None
    if role == "instructor":
        user = login_as(session.instructor)
    elif role == "other instructor":
        user = login_as("instructor")
    elif role != "anonymous":
        user = login_as(role)
    csv_response = client.get(f"/sessions/{session.id}/attendance.csv")
    part = client.get(f"/sessions/{session.id}/attendance", headers={"HX-Request": "true"})
    expected = 404 if user is None else (200 if rules.can_see_attendance(session, user) else 403)
    assert (csv_response.status_code, part.status_code) == (expected, expected)
    if role in ("instructor", "admin"):
        assert expected == 200
    if role in ("public", "member", "other instructor", "anonymous"):
        assert expected != 200
    if expected != 200:
        assert csv_response.mimetype != "text/csv"


def test_a_session_the_viewer_may_not_see_is_a_404(client, login_as, make_session):
    hidden = make_session(is_public=False)
    login_as("public")
    assert client.get(f"/sessions/{hidden.id}/attendance.csv").status_code == 404
    assert client.get("/sessions/999999/attendance.csv").status_code == 404
