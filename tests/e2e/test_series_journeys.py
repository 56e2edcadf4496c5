"""A weekly class in a real browser (issue 11): an instructor schedules it with "Repeats weekly", previews the
dates in the class's zone, saves; a member books the whole series from a session page and holds a seat on the
next occurrences."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.core.clock import now_utc
from portal.extensions import db
from portal.seats.models import Seat
from portal.training.models import TrainingSession
from tests.plugins.browser import assert_accessible

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_an_instructor_schedules_a_weekly_class_and_a_member_books_the_term_and_sees_it_in_the_week_view(
    page_as, make_user, shot
):
    instructor = make_user("instructor", name="Weekly Sensei")
    member = make_user("member", name="Term Booker")
    first_day = (now_utc().astimezone(ZoneInfo("Europe/Berlin")) + timedelta(days=3)).date()

    page = page_as(instructor)
    page.goto("/sessions/new")
    page.get_by_label("Title").fill("Monday kihon")
    page.get_by_label("Date").fill(first_day.isoformat())
    page.get_by_label(re.compile(r"^Time\W*$")).fill("18:00")
    page.locator("#f-timezone").select_option("Europe/Berlin")
    page.get_by_label("Capacity").fill("10")
    page.get_by_label("Repeats weekly", exact=False).check()
    weekday = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")[first_day.weekday()]
    page.locator(f"#f-weekdays-{weekday}").check()
    page.get_by_label("Number of sessions", exact=True).fill("4")
    page.get_by_role("button", name="Preview dates").click()
    preview = page.locator("#series-preview")
    expect(preview).to_contain_text("4 sessions, in Europe/Berlin")
    expect(preview.locator("li")).to_have_count(4)
    expect(preview.locator("li").first).to_contain_text(f"{first_day:%d %b %Y}, 18:00")
    assert db.session.scalars(select(TrainingSession)).all() == []  # a preview stores nothing
    shot(page, "series-01-preview")
    assert_accessible(page, "series-01-preview")
    page.get_by_role("button", name="Schedule the session").click()
    expect(page.locator(".flash")).to_contain_text("Weekly class created: 4 sessions from")
    expect(page.locator("h1")).to_contain_text("Monday kihon")

    db.session.expire_all()
    sessions = list(db.session.scalars(select(TrainingSession).order_by(TrainingSession.start_time)))
    assert len(sessions) == 4 and {s.series_id for s in sessions} != {None}

    booker = page_as(member)
    booker.goto(f"/sessions/{sessions[0].id}")
    booker.get_by_role("button", name="Book the whole series").click()
    expect(booker.locator(".flash")).to_contain_text("You booked the whole series: 4 sessions.")
    expect(booker.get_by_role("button", name="End standing booking")).to_be_visible()
    shot(booker, "series-02-booked")
    assert_accessible(booker, "series-02-booked")
    for upcoming in sessions[1:3]:  # the next occurrences: a seat in each
        booker.goto(f"/sessions/{upcoming.id}")
        expect(booker.locator(f"#join-panel-{upcoming.id} .seats")).to_contain_text("you have a seat")
    week_of = sessions[1].start_time.astimezone(ZoneInfo(member.timezone)).date()
    booker.goto(f"/timetable?start={week_of.isoformat()}")  # the term in the member's week view
    entry = booker.locator(f'.timetable-session[data-session="{sessions[1].id}"]')
    expect(entry).to_contain_text("Monday kihon")
    expect(booker.locator(".timetable-session", has_text="Monday kihon")).to_have_count(1)  # one a week
    shot(booker, "series-03-week-view")
    assert_accessible(booker, "series-03-week-view")
    db.session.expire_all()
    held = db.session.scalars(select(Seat).where(Seat.user_id == member.id, Seat.status == "confirmed")).all()
    assert sorted(seat.session_id for seat in held) == [s.id for s in sessions]
