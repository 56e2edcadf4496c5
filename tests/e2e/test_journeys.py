"""The portal as people use it: the real server, worker and Redis, driven in headless Chromium.

Each journey saves screenshots under test-artifacts/e2e/ (README shows the key ones).
"""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from portal.core.clock import now_utc
from portal.extensions import db
from portal.seats.models import Seat, SeatStatus
from portal.training.models import TrainingSession
from tests.plugins.browser import assert_accessible

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _reload(session: TrainingSession) -> TrainingSession:
    db.session.expire_all()
    return db.session.get(TrainingSession, session.id)


def test_instructor_schedules_a_session_in_their_zone_edits_it_and_cancels_another(
    page_as, make_user, make_event, make_session, shot
):
    instructor = make_user("instructor", name="Kenji Sato", timezone="America/New_York")
    event = make_event(title="Winter Iaido Seminar", visibility="public", start_in=timedelta(days=5))
    other = make_session(instructor=instructor, event=event, title="Kata review", start_in=timedelta(days=3))
    page = page_as(instructor)

    local_day = (now_utc() + timedelta(days=2)).astimezone(ZoneInfo("America/New_York")).date()
    page.goto("/sessions/new")
    page.get_by_label("Title").fill("Sword basics for beginners")
    page.get_by_label("Event").select_option(value=str(event.id))
    page.get_by_label("Date").fill(local_day.isoformat())
    page.get_by_label(re.compile(r"^Time\W*$")).fill("18:30")
    expect(page.get_by_label("Time zone")).to_have_value("America/New_York")
    page.get_by_label("Duration (minutes)").fill("90")
    page.get_by_label("Capacity").fill("12")
    page.get_by_label("Tags").fill("Iaido, beginners")
    shot(page, "01-instructor-schedule-form")
    assert_accessible(page, "01-instructor-schedule-form")
    page.get_by_role("button", name="Schedule the session").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Sword basics for beginners")
    expect(page.locator("main")).to_contain_text("18:30")
    shot(page, "02-instructor-session-page")
    assert_accessible(page, "02-instructor-session-page")
    created = db.session.scalar(db.select(TrainingSession).filter_by(title="Sword basics for beginners"))
    assert created.start_time.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M") == "18:30"
    assert created.tags == ["iaido", "beginners"]

    page.goto(f"/events/{event.id}")
    item = page.locator(f"#join-panel-{created.id}")
    expect(item).to_contain_text("18:30")
    expect(item).to_contain_text("E")  # EST / EDT, the zone is always shown
    shot(page, "03-event-page-instructor")
    assert_accessible(page, "03-event-page-instructor")

    page.goto(f"/sessions/{created.id}/edit")
    page.get_by_label("Title").fill("Sword basics (beginners)")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sword basics (beginners)")

    page.goto(f"/sessions/{other.id}/cancel")
    page.get_by_role("button", name="Yes, cancel the session").click()
    expect(page.locator("main")).to_contain_text("Canceled")
    assert _reload(other).status == "canceled"


def test_form_errors_are_shown_next_to_the_fields_and_nothing_typed_is_lost(page_as, make_user, shot):
    page = page_as(make_user("instructor", timezone="Europe/Berlin"))
    page.goto("/sessions/new")
    page.get_by_label("Title").fill("Too short a session")
    page.get_by_label("Date").fill("2020-01-01")
    page.get_by_label(re.compile(r"^Time\W*$")).fill("10:00")
    page.get_by_label("Duration (minutes)").fill("5")
    page.get_by_role("button", name="Schedule the session").click()
    expect(page.locator(".field.has-error").first).to_be_visible()
    expect(page.get_by_label("Title")).to_have_value("Too short a session")
    expect(page.locator("main")).to_contain_text("15")  # the duration rule names its bounds
    shot(page, "04-form-errors")
    assert_accessible(page, "04-form-errors")
    assert db.session.scalar(db.select(db.func.count(TrainingSession.id))) == 0


def test_member_in_another_zone_sees_join_open_by_itself_waits_and_enters_when_instructor_starts(
    page_as, make_user, make_event, make_session, shot
):
    instructor = make_user("instructor", name="Mei Lin", timezone="Europe/Berlin")
    member = make_user("member", name="Aroha Ngata", timezone="Pacific/Auckland")
    event = make_event(title="Open mat", visibility="members", start_in=timedelta(hours=1))
    # The join window opens ~12 s after the member's page loads.
    session = make_session(
        instructor=instructor,
        event=event,
        title="Evening randori",
        start_in=timedelta(minutes=10, seconds=12),
        capacity=10,
    )
    member_page = page_as(member)
    member_page.goto(f"/events/{event.id}")
    panel = member_page.locator(f"#join-panel-{session.id}")
    join = panel.get_by_role("button", name="Join", exact=True)
    expect(join).to_be_disabled()
    local = session.start_time.astimezone(ZoneInfo("Pacific/Auckland")).strftime("%H:%M")
    expect(panel).to_contain_text(local)
    expect(panel).to_contain_text("NZ")  # NZDT / NZST
    shot(member_page, "05-member-countdown")
    assert_accessible(member_page, "05-member-countdown")
    url_before = member_page.url

    expect(join).to_be_enabled(timeout=30_000)  # no reload: the panel polled and replaced itself
    assert member_page.url == url_before
    shot(member_page, "06-member-join-open")
    assert_accessible(member_page, "06-member-join-open")

    join.click()
    expect(member_page.locator("main")).to_contain_text("Waiting for the instructor")
    shot(member_page, "07-member-waiting-room")
    assert_accessible(member_page, "07-member-waiting-room")

    instructor_page = page_as(instructor)
    instructor_page.goto(f"/sessions/{session.id}")
    instructor_page.get_by_role("button", name="Start the session").click()
    expect(instructor_page.locator("main")).to_contain_text("live", ignore_case=True)

    expect(member_page.get_by_role("heading", name="Development room — no video")).to_be_visible(timeout=30_000)
    shot(member_page, "08-member-in-room")
    assert_accessible(member_page, "08-member-in-room")
    assert _reload(session).status == "live"


def test_full_session_waitlist_promotion_then_join(page_as, make_user, make_session, shot):
    from portal.seats import operations as seats

    instructor = make_user("instructor")
    holder = make_user("member", name="Seat Holder")
    waiting = make_user("member", name="Wait Lister")
    session = make_session(instructor=instructor, title="Small group kumite", start_in=timedelta(minutes=5), capacity=1)
    seats.reserve(session, holder)
    db.session.commit()

    waiting_page = page_as(waiting)
    waiting_page.goto(f"/sessions/{session.id}")
    panel = waiting_page.locator(f"#join-panel-{session.id}")
    expect(panel.get_by_role("button", name="Join", exact=True)).to_be_disabled()
    panel.get_by_role("button", name="Join the waitlist").click()
    expect(waiting_page.locator(f"#join-panel-{session.id}")).to_contain_text("on the waitlist")
    shot(waiting_page, "09-waitlisted")
    assert_accessible(waiting_page, "09-waitlisted")

    holder_page = page_as(holder)
    holder_page.goto(f"/sessions/{session.id}")
    holder_page.locator(f"#join-panel-{session.id}").get_by_role("button", name="Cancel my seat").click()
    expect(holder_page.locator(f"#join-panel-{session.id}")).not_to_contain_text("you have a seat")

    panel = waiting_page.locator(f"#join-panel-{session.id}")
    expect(panel).to_contain_text("you have a seat", timeout=20_000)  # promoted; the panel updated by itself
    panel.get_by_role("button", name="Join", exact=True).click()
    expect(waiting_page.locator("main")).to_contain_text("Waiting for the instructor")
    seat = db.session.scalar(db.select(Seat).filter_by(session_id=session.id, user_id=waiting.id))
    assert seat.status == SeatStatus.CONFIRMED.value


def test_anonymous_visitor_is_asked_to_sign_in_and_public_user_is_told_members_only(
    page_as, make_user, make_event, make_session, shot
):
    event = make_event(title="Public demo day", visibility="public")
    open_session = make_session(
        event=event, title="Open class", is_public=True, members_only=False, start_in=timedelta(minutes=5)
    )
    members_session = make_session(
        event=event, title="Members class", is_public=True, members_only=True, start_in=timedelta(minutes=5)
    )
    anonymous = page_as(None, timezone="Asia/Tokyo")
    anonymous.goto(f"/events/{event.id}")
    expect(anonymous.locator("main")).to_contain_text("Open class")
    # First visit: the page corrects itself to the visitor's own zone (Tokyo), no reload by hand.
    expect(anonymous.locator(f"#join-panel-{open_session.id}")).to_contain_text("JST")
    expect(anonymous.locator("footer")).to_contain_text("Asia/Tokyo")
    shot(anonymous, "10-anonymous-event-page")
    assert_accessible(anonymous, "10-anonymous-event-page")
    anonymous.locator(f"#join-panel-{open_session.id}").get_by_role("link", name="Sign in to join").click()
    expect(anonymous).to_have_url(re.compile(r"/login\?next="))

    public_user = make_user("public", name="Guest Visitor")
    guest = page_as(public_user)
    guest.goto(f"/events/{event.id}")
    members_panel = guest.locator(f"#join-panel-{members_session.id}")
    expect(members_panel.get_by_role("button", name="Join", exact=True)).to_be_disabled()
    expect(members_panel).to_contain_text("members", ignore_case=True)
    expect(
        guest.locator(f"#join-panel-{open_session.id}").get_by_role("button", name="Join", exact=True)
    ).to_be_enabled()
    shot(guest, "11-public-user-members-only")
    assert_accessible(guest, "11-public-user-members-only")


def test_without_javascript_pages_read_and_join_works(browser, live_portal, make_user, make_session, shot):
    from tests.conftest import PASSWORD

    member = make_user("member", timezone="Europe/London")
    session = make_session(title="No-script session", start_in=timedelta(minutes=5))
    context = browser.new_context(base_url=live_portal, java_script_enabled=False, timezone_id="Europe/London")
    try:
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("Email").fill(member.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"/sessions/{session.id}")
        panel = page.locator(f"#join-panel-{session.id}")
        expect(panel.get_by_role("link", name="Refresh")).to_be_visible()
        panel.get_by_role("button", name="Join", exact=True).click()
        expect(page.locator("main")).to_contain_text("Waiting for the instructor")
        shot(page, "12-no-javascript-join")  # no axe here: it needs JavaScript, and this page refreshes itself
    finally:
        context.close()


def test_phone_layout_keeps_the_join_panel_usable(page_as, make_user, make_event, make_session, shot):
    member = make_user("member", timezone="Europe/Madrid")
    event = make_event(title="Weekend camp", visibility="members")
    make_session(event=event, title="Morning kihon", start_in=timedelta(minutes=5), capacity=20)
    page = page_as(member, mobile=True)
    page.goto(f"/events/{event.id}")
    join = page.get_by_role("button", name="Join", exact=True).first
    expect(join).to_be_visible()
    box = join.bounding_box()
    assert box and box["height"] >= 36 and box["x"] + box["width"] <= 390
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    shot(page, "13-phone-event-page")
    assert_accessible(page, "13-phone-event-page")


def test_an_htmx_error_is_shown_to_the_person_not_swallowed(page_as, make_session, shot):
    session = make_session(title="Soon hidden", is_public=True, members_only=False, start_in=timedelta(minutes=5))
    page = page_as(None, timezone="Europe/Paris")
    page.goto(f"/sessions/{session.id}")
    expect(page.locator(f"#join-panel-{session.id}")).to_be_visible()
    stored = _reload(session)
    stored.is_public = False  # the next poll of this anonymous visitor's panel answers 404
    db.session.commit()
    alert = page.locator(".toast-region [role=alert]").first
    expect(alert).to_be_visible(timeout=15_000)
    expect(alert).not_to_be_empty()
    shot(page, "14-htmx-error-shown")
    assert_accessible(page, "14-htmx-error-shown")


def test_signing_in_works_with_the_keyboard_alone(page_as, make_user, live_portal):
    from tests.conftest import PASSWORD

    member = make_user("member", name="Keyboard User")
    page = page_as(None)
    page.goto("/login")
    expect(page.get_by_label("Email")).to_be_focused()  # the email field has focus on arrival
    page.keyboard.type(member.email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("header")).to_contain_text("Keyboard User")
