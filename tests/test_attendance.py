"""Attendance: one row per person and session; joins, leaves (beacon, end of session), the table and the CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.seats import operations
from portal.seats.models import Attendance
from tests.test_panel import csrf_token, post


@pytest.fixture
def live(make_session, make_user, clock):
    return make_session(instructor=make_user("instructor"), start_in=timedelta(minutes=-10), status="live")


def row_of(session, user) -> Attendance | None:
    db.session.expire_all()
    return db.session.scalar(
        select(Attendance).where(Attendance.session_id == session.id, Attendance.user_id == user.id)
    )


def test_a_first_join_creates_the_row(live, make_user, clock):
    member = make_user("member")
    operations.record_join(live, member, clock.now())
    db.session.commit()
    row = row_of(live, member)
    assert (row.first_joined_at, row.last_joined_at, row.join_count, row.is_present, row.watch_seconds) == (
        clock.now(),
        clock.now(),
        1,
        True,
        0,
    )


def test_leave_and_rejoin_add_up_watch_time_and_count_joins(live, make_user, clock):
    member = make_user("member")
    start = clock.now()
    operations.record_join(live, member, start)
    operations.record_leave(live, member, start + timedelta(minutes=10))
    operations.record_join(live, member, start + timedelta(minutes=15))
    operations.record_leave(live, member, start + timedelta(minutes=20))
    db.session.commit()
    row = row_of(live, member)
    assert (row.join_count, row.watch_seconds, row.is_present) == (2, 15 * 60, False)
    assert row.first_joined_at == start and row.last_left_at == start + timedelta(minutes=20)


def test_repeated_and_stale_events_change_nothing(live, make_user, clock):
    member = make_user("member")
    start = clock.now()
    operations.record_join(live, member, start)
    operations.record_join(live, member, start + timedelta(minutes=1))  # duplicate join while present
    operations.record_leave(live, member, start + timedelta(minutes=10))
    operations.record_leave(live, member, start + timedelta(minutes=10))  # duplicate leave
    operations.record_join(live, member, start)  # the first join, delivered again
    operations.record_leave(live, member, start + timedelta(minutes=12))  # leave while absent
    db.session.commit()
    row = row_of(live, member)
    assert (row.join_count, row.watch_seconds, row.is_present) == (1, 600, False)
    assert row.last_left_at == start + timedelta(minutes=10)


def test_a_leave_without_a_join_records_nothing(live, make_user, clock):
    member = make_user("member")
    assert operations.record_leave(live, member, clock.now()) is None
    assert row_of(live, member) is None


def test_ending_the_session_closes_everyone_still_present(live, make_user, clock):
    stays, left = make_user("member"), make_user("member")
    start = clock.now()
    operations.record_join(live, stays, start)
    operations.record_join(live, left, start)
    operations.record_leave(live, left, start + timedelta(minutes=5))
    operations.close_attendance(live, start + timedelta(minutes=30))
    db.session.commit()
    assert (row_of(live, stays).watch_seconds, row_of(live, stays).is_present) == (1800, False)
    assert row_of(live, left).watch_seconds == 300


def test_the_leave_beacon_records_the_leave(client, login_as, live, clock):
    member = login_as("member")
    assert post(client, f"/sessions/{live.id}/join").status_code == 200
    clock.shift(timedelta(minutes=7))
    response = post(client, f"/sessions/{live.id}/leave")
    assert response.status_code == 204
    row = row_of(live, member)
    assert (row.is_present, row.watch_seconds) == (False, 420)


def test_the_leave_beacon_needs_the_csrf_token(make_app, login_as, live):
    strict = make_app(WTF_CSRF_ENABLED=True).test_client()
    member = login_as("member", client=strict)
    operations.record_join(live, member)
    db.session.commit()
    assert strict.post(f"/sessions/{live.id}/leave").status_code == 400
    assert row_of(live, member).is_present
    token = csrf_token(strict)
    assert strict.post(f"/sessions/{live.id}/leave", data={"csrf_token": token}).status_code == 204
    assert not row_of(live, member).is_present


def add_attendance(session, user, clock, minutes: int) -> None:
    start = clock.now() - timedelta(minutes=minutes)
    operations.record_join(session, user, start)
    operations.record_leave(session, user, clock.now())
    db.session.commit()


def test_the_instructor_downloads_the_attendance_as_csv(client, login_as, live, make_user, clock):
    login_as(live.instructor)
    add_attendance(live, make_user("member", name="=HYPERLINK(evil)", email="a@example.org"), clock, 9)
    response = client.get(f"/sessions/{live.id}/attendance.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == [
        "name", "email", "first_joined_at", "last_left_at", "watch_seconds", "watch_time", "joins", "minutes", "status",
    ]  # fmt: skip
    assert rows[1] == [
        "'=HYPERLINK(evil)",
        "a@example.org",
        (clock.now() - timedelta(minutes=9)).isoformat(),
        clock.now().isoformat(),
        "540",
        "0:09:00",
        "1",
        "9",
        "attended",
    ]
    assert rows[1][2].endswith("+00:00")


FORMULA_LIKE = re.compile(r'^[\s"]*[=+\-@]')
INJECTING_NAMES = [
    "x;=1+1",  # a spreadsheet where ; separates cells makes "=1+1" a cell of its own
    "Kim,+cmd|' /C calc'!A0",
    "Ann\t@SUM(1+1)",
    'Bo; "=2+2"',
    "Lee;  -3+3",
    "Max\r\n=4+4",
    "\t=5+5",
]


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_no_part_of_an_exported_name_can_start_a_formula_in_any_separator_locale(
    client, login_as, live, make_user, clock, separator
):
    login_as(live.instructor)
    for n, name in enumerate(INJECTING_NAMES):
        add_attendance(live, make_user("member", name=name, email=f"m{n}@example.org"), clock, 5)
    text = client.get(f"/sessions/{live.id}/attendance.csv").get_data(as_text=True)
    # the file as a spreadsheet of that locale cuts it: by its separator, honouring quotes or not
    cells = [cell for row in csv.reader(io.StringIO(text), delimiter=separator) for cell in row]
    cells += [cell for line in text.splitlines() for cell in line.split(separator)]
    assert [cell for cell in cells if FORMULA_LIKE.match(cell)] == []
    names = [row[0] for row in csv.reader(io.StringIO(text))][1:]
    assert sorted(name.replace("'", "") for name in names) == sorted(n.replace("'", "") for n in INJECTING_NAMES)


@pytest.mark.parametrize(
    ("role", "status"), [("member", 403), ("instructor", 403), ("board_member", 200), ("admin", 200)]
)
def test_only_the_instructors_board_and_admins_get_the_attendance(client, login_as, live, role, status):
    login_as(role)
    assert client.get(f"/sessions/{live.id}/attendance.csv").status_code == status
    assert client.get(f"/sessions/{live.id}/attendance", headers={"HX-Request": "true"}).status_code == status


def test_anonymous_visitors_get_no_attendance(client, make_session):
    session = make_session(is_public=True)
    assert client.get(f"/sessions/{session.id}/attendance.csv").status_code == 404


def test_the_attendance_table_lists_everyone_and_refreshes_while_live(client, login_as, live, make_user, clock):
    login_as(live.instructor)
    add_attendance(live, make_user("member", name="Aiko Tanaka"), clock, 4)
    html = client.get(f"/sessions/{live.id}/attendance", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Aiko Tanaka" in html and "4 min 00 s" in html
    assert 'hx-trigger="every 15s"' in html and "attendance.csv" in html
    live.status = "ended"
    db.session.commit()
    html = client.get(f"/sessions/{live.id}/attendance", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "hx-trigger" not in html


def test_someone_still_present_counts_watch_time_up_to_now(live, make_user, clock):
    from portal.seats.queries import attendance_rows

    member = make_user("member")
    operations.record_join(live, member, clock.now() - timedelta(minutes=3))
    db.session.commit()
    (row,) = attendance_rows(live)
    assert (row.watch_seconds, row.is_present, row.last_left_at) == (180, True, None)
