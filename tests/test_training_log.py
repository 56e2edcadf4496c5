"""The training log (issue 12, SPEC "After the session"): the sessions a member attended and the minutes, counted
inside each session's live period, totals by tag and by month in the viewer's zone, page and CSV; one's own for
everyone, anyone's for instructors, board members and admins, 404 for everyone else."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from portal.core.clock import now_utc
from portal.extensions import db
from portal.seats import operations, training_log
from portal.seats.models import Attendance

T = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)  # a session's live start, before the fixed NOW (1 Dec 2026, 09:00)
MIN = timedelta(minutes=1)


@pytest.fixture
def went_live(make_session, clock):
    """went_live(start, minutes=60, live_for=None) -> a session that went live at `start` and ended `live_for` after
    it (ended at the scheduled end by default; still live when live_for="open")."""

    def factory(start: datetime = T, *, minutes: int = 60, live_for=None, tags=(), title=None, **fields):
        still_live = live_for == "open"
        end = None if still_live else start + (live_for or timedelta(minutes=minutes))
        return make_session(
            start_time=start,
            duration_minutes=minutes,
            status="live" if still_live else "ended",
            started_at=start,
            ended_at=end,
            tags=list(tags),
            title=title,
            **fields,
        )

    return factory


def attended(session, user, first, *, last_join=None, left=None, present=False, watch=None, joins=1) -> Attendance:
    """An attendance row as portal.seats.operations keeps it (stored directly, to place joins anywhere in time)."""
    last_join = last_join or first
    if watch is None:
        watch = 0 if present else int((left - first).total_seconds())
    row = Attendance(
        session_id=session.id,
        user_id=user.id,
        first_joined_at=first,
        last_joined_at=last_join,
        last_left_at=left,
        is_present=present,
        watch_seconds=watch,
        join_count=joins,
    )
    db.session.add(row)
    db.session.commit()
    return row


def minutes_of(user) -> dict[str, int]:
    return {entry.title: entry.minutes for entry in training_log.log_for(user.id, now_utc())}


# ------------------------------------------------------------------------------------------------ the minutes
def test_overlapping_intervals_count_once_and_only_inside_the_window():
    window = (T, T + 60 * MIN)
    intervals = [(T - 10 * MIN, T + 10 * MIN), (T + 5 * MIN, T + 15 * MIN), (T + 20 * MIN, T + 25 * MIN)]
    assert training_log.union_seconds(intervals, window) == (15 + 5) * 60
    assert training_log.union_seconds([(T + 50 * MIN, T + 90 * MIN)], window) == 10 * 60  # after the end: cut
    assert training_log.union_seconds([(T + 61 * MIN, T + 90 * MIN)], window) == 0
    assert training_log.union_seconds([(T, T + 60 * MIN)] * 3, window) == 60 * 60  # the same visit thrice: once


def test_several_joins_are_summed_and_a_join_while_present_is_not_a_second_visit(went_live, make_user, clock):
    session = went_live(T, live_for="open")
    member = make_user("member")
    clock.at(T + 40 * MIN)
    operations.record_join(session, member, T)
    operations.record_join(session, member, T + 2 * MIN)  # a second tab: already present, nothing counted twice
    operations.record_leave(session, member, T + 10 * MIN)
    operations.record_join(session, member, T + 15 * MIN)
    operations.record_leave(session, member, T + 20 * MIN)
    operations.record_join(session, member, T + 30 * MIN)  # still in the room: counted up to now
    db.session.commit()
    assert minutes_of(member) == {session.title: 10 + 5 + 10}


def test_a_join_before_the_live_start_is_clipped(went_live, make_user):
    session = went_live(T)
    member = make_user("member")
    attended(session, member, T - 15 * MIN, left=T + 30 * MIN)  # in the waiting room 15 minutes early
    assert minutes_of(member) == {session.title: 30}


def test_someone_still_in_the_room_at_the_end_counts_to_the_end(went_live, make_user, clock):
    session = went_live(T, live_for=45 * MIN)  # the instructor ended it early
    member = make_user("member")
    attended(session, member, T + 5 * MIN, left=T + 10 * MIN, last_join=T + 20 * MIN, present=True, watch=300)
    clock.at(T + 5 * 60 * MIN)  # hours later, the leave never came
    assert minutes_of(member) == {session.title: 5 + 25}


def test_several_sessions_newest_first_and_one_that_never_went_live_is_not_listed(went_live, make_user, make_session):
    member = make_user("member")
    first = went_live(T - timedelta(days=7), title="Kata")
    second = went_live(T, title="Randori")
    attended(first, member, first.started_at, left=first.started_at + 50 * MIN)
    attended(second, member, T + 10 * MIN, left=T + 70 * MIN)  # left after the end: 50 minutes live
    never = make_session(start_time=T, status="ended", end_reason="not_started", ended_at=T + 60 * MIN)
    attended(never, member, T, left=T + 5 * MIN)
    entries = training_log.log_for(member.id, now_utc())
    assert [(e.title, e.minutes) for e in entries] == [("Randori", 50), ("Kata", 50)]


# ------------------------------------------------------------------------------------------------ the totals
def entry(title, started_at, minutes, tags=()):
    return training_log.LogEntry(1, title, tuple(tags), "Sensei", started_at, minutes * 60 + 59, 1, False)


def test_totals_by_tag_and_by_month_in_the_viewers_zone():
    # 23:30 UTC on 31 October is 00:30 on 1 November in Berlin (UTC+1 after the clocks went back).
    halloween = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
    entries = [
        entry("a", halloween, 60, ["judo", "kata"]),
        entry("b", datetime(2026, 11, 10, 18, 0, tzinfo=UTC), 30, ["judo"]),
        entry("c", datetime(2026, 10, 3, 18, 0, tzinfo=UTC), 45),
    ]
    in_utc = training_log.totals(entries, ZoneInfo("UTC"))
    assert (in_utc.sessions, in_utc.minutes) == (3, 135)  # whole minutes of each session, added up
    assert [(t.key, t.sessions, t.minutes) for t in in_utc.by_tag] == [
        ("judo", 2, 90),
        ("kata", 1, 60),
        (training_log.NO_TAG, 1, 45),
    ]
    assert [(t.key, t.sessions, t.minutes) for t in in_utc.by_month] == [("2026-11", 1, 30), ("2026-10", 2, 105)]
    in_berlin = training_log.totals(entries, ZoneInfo("Europe/Berlin"))
    assert [(t.key, t.sessions, t.minutes) for t in in_berlin.by_month] == [("2026-11", 2, 90), ("2026-10", 1, 45)]
    assert in_berlin.by_month[0].label == "November 2026"


def test_the_page_shows_months_in_the_viewers_zone(went_live, make_user, client, login_as):
    member = login_as("member", timezone="Europe/Berlin")
    session = went_live(datetime(2026, 10, 31, 23, 30, tzinfo=UTC), tags=["judo"], title="Late class")
    attended(session, member, session.started_at, left=session.started_at + 40 * MIN)
    page = client.get("/my/training-log").get_data(as_text=True)
    assert "November 2026" in page and "October 2026" not in page
    assert "Late class" in page and "Sun 01 Nov 2026, 00:30 CET" in page
    assert ">40<" in page  # the minutes


def test_the_empty_log_says_so(client, login_as):
    login_as("member")
    response = client.get("/my/training-log")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "You have not attended a session yet" in page and "Download (CSV)" not in page


# ------------------------------------------------------------------------------------------------ the CSV
def test_the_csv_is_utf8_defused_and_named_for_the_person(went_live, make_user, client, login_as):
    member = login_as("member", name="Zoë Ünal", timezone="Asia/Tokyo")
    session = went_live(T, title='=HYPERLINK("http://evil.example")', tags=["+kata", "judo"])
    session.instructor.name = "@Sensei"
    db.session.commit()
    attended(session, member, T, left=T + 42 * MIN)
    response = client.get("/my/training-log.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="training-log-zoe-unal.csv"'
    assert "no-store" in response.headers["Cache-Control"]
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0] == ["date", "time", "time_zone", "session", "tags", "instructor", "minutes", "joins"]
    # 18:00 UTC on 20 November is 03:00 on 21 November in Tokyo
    assert rows[1] == [
        "2026-11-21",
        "03:00",
        "Asia/Tokyo",
        '\'=HYPERLINK("http://evil.example")',
        "'+kata, judo",
        "'@Sensei",
        "42",
        "1",
    ]
    assert ["'+kata", "1", "42"] in rows and ["judo", "1", "42"] in rows
    assert ["2026-11", "1", "42"] in rows and rows[-1] == ["total", "1", "42"]


# ------------------------------------------------------------------------------------------------ access
ROLES = ("public", "member", "instructor", "board_member", "admin")


@pytest.mark.parametrize("role", ROLES)
def test_everyone_signed_in_sees_their_own_log(role, went_live, client, login_as):
    user = login_as(role)
    session = went_live(T, title="My own class")
    attended(session, user, T, left=T + 10 * MIN)
    assert "My own class" in client.get("/my/training-log").get_data(as_text=True)
    assert client.get(f"/people/{user.id}/training-log").status_code == 200  # their own, by id too
    assert client.get("/my/training-log.csv").status_code == 200


@pytest.mark.parametrize(("role", "may"), [("public", False), ("member", False), *((r, True) for r in ROLES[2:])])
def test_anothers_log_is_for_instructors_board_and_admins_only(role, may, went_live, make_user, client, login_as):
    person = make_user("member", name="Other Person")
    session = went_live(T, title="Their class")
    attended(session, person, T, left=T + 10 * MIN)
    login_as(role)
    page = client.get(f"/people/{person.id}/training-log")
    csv_file = client.get(f"/people/{person.id}/training-log.csv")
    if may:
        assert page.status_code == csv_file.status_code == 200
        assert "Their class" in page.get_data(as_text=True) and "Other Person" in page.get_data(as_text=True)
        assert "Their class" in csv_file.get_data(as_text=True)
        assert "training-log-other-person.csv" in csv_file.headers["Content-Disposition"]
    else:
        assert page.status_code == csv_file.status_code == 404
        assert "Their class" not in page.get_data(as_text=True) + csv_file.get_data(as_text=True)
    assert client.get("/people/999999/training-log").status_code == 404  # nobody: the same answer


def test_anonymous_visitors_get_nothing(went_live, make_user, client):
    person = make_user("member")
    attended(went_live(T, title="Their class"), person, T, left=T + 10 * MIN)
    assert client.get(f"/people/{person.id}/training-log").status_code == 404
    assert client.get(f"/people/{person.id}/training-log.csv").status_code == 404
    own = client.get("/my/training-log")
    assert own.status_code == 302 and "/login" in own.headers["Location"]
    assert client.get("/my/training-log.csv").status_code == 302
