"""End to end in Chromium against the running portal: the waiting room switches to the room by itself when the
instructor starts, the leave beacon records the leave, and the join panel replaces itself when the session ends."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.seats.models import Attendance
from portal.training.models import TrainingSession

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def wait_for(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def set_status(session: TrainingSession, status: str) -> None:
    db.session.expire_all()
    stored = db.session.get(TrainingSession, session.id)
    stored.status = status
    db.session.commit()


def attendance(session, user) -> Attendance | None:
    return db.session.scalar(
        select(Attendance).where(Attendance.session_id == session.id, Attendance.user_id == user.id)
    )


def test_the_waiting_room_enters_the_room_when_the_session_starts_and_the_beacon_records_leaving(
    page_as, make_user, make_session, shot
):
    member = make_user("member")
    session = make_session(start_in=timedelta(minutes=4), capacity=5, title="Waiting room drill")
    page = page_as(member)
    page.goto(f"/sessions/{session.id}/join")
    page.get_by_text("Waiting for the instructor to start.").wait_for()
    shot(page, "join-waiting-room")
    set_status(session, "live")
    page.get_by_text("Development room").wait_for(timeout=15_000)  # polled, then entered by itself
    shot(page, "join-room")
    row = wait_for(lambda: attendance(session, member))
    assert row.is_present and row.join_count == 1
    page.goto("/")  # leaving the room page sends the beacon
    wait_for(lambda: (r := attendance(session, member)) is not None and not r.is_present)


def test_the_join_panel_polls_and_stops_when_the_session_ends(page_as, make_user, make_session):
    member = make_user("member")
    session = make_session(start_in=timedelta(minutes=5), status="live", capacity=5)
    page = page_as(member)
    page.goto(f"/sessions/{session.id}")
    panel = page.locator(f"#join-panel-{session.id}")
    panel.get_by_role("button", name="Join now").wait_for()
    set_status(session, "ended")
    panel.get_by_text("This session has ended.").wait_for(timeout=20_000)  # the 10 s poll of a live session
    assert page.locator(f"#join-panel-{session.id}").get_attribute("hx-trigger") is None


def test_the_instructor_starts_from_the_waiting_room_and_the_waiting_member_enters(
    page_as, make_user, make_session, shot
):
    instructor, member = make_user("instructor"), make_user("member")
    session = make_session(instructor=instructor, start_in=timedelta(minutes=3), capacity=5)
    waiting = page_as(member)
    waiting.goto(f"/sessions/{session.id}/join")
    waiting.get_by_text("Waiting for the instructor to start.").wait_for()
    host = page_as(instructor)
    host.goto(f"/sessions/{session.id}/join")
    shot(host, "join-waiting-room-instructor")
    host.get_by_role("button", name="Start the session").click()
    host.wait_for_load_state()
    wait_for(lambda: db.session.get(TrainingSession, session.id).status == "live")
    waiting.get_by_text("Development room").wait_for(timeout=15_000)


def test_the_panel_counts_down_in_the_browser_before_the_window(page_as, make_user, make_session, shot):
    member = make_user("member", timezone="Europe/Berlin")
    session = make_session(start_in=timedelta(minutes=40), capacity=12, title="Countdown drill")
    page = page_as(member)
    page.goto(f"/sessions/{session.id}")
    countdown = page.locator(f"#join-panel-{session.id} .countdown")
    first = countdown.inner_text()
    page.wait_for_timeout(2200)
    assert countdown.inner_text() != first  # portal.js ticks it between polls
    assert page.locator(f"#join-panel-{session.id} button.join-button").is_disabled()
    assert page.locator(f"#join-panel-{session.id}").get_attribute("hx-trigger") == "every 60s"
    shot(page, "join-panel-before-window")
    page.get_by_role("button", name="Reserve a seat").click()
    page.get_by_text("You have a seat.").wait_for()
    shot(page, "join-panel-reserved")
