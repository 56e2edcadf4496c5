"""Accessibility of every main page state in a real browser (issue 14): axe-core (tests/assets/, vendored from npm)
finds no violation on any of them, as each kind of person sees them, on a desktop and on a phone; a phone never
scrolls sideways; every page has its favicon; keyboard focus stays on Join through polls and on the panel's new
control after "Reserve a seat"; a signed-out visitor of a page they may not see is offered to sign in and returned."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from playwright.sync_api import expect

from portal.core.clock import now_utc
from tests.plugins.browser import PHONE_WIDTH, axe_violations, format_violations

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


# Pages whose phone layout adds nothing the others do not cover (same forms, same lists): desktop only, to keep
# the suite fast. Every table, panel state and navigation is still checked at 375 px.
DESKTOP_ONLY = {
    "events",
    "sign up",
    "password reset",
    "session before its window",
    "ended session",
    "a session that does not exist, signed in",
    "account",
    "recordings",
    "add a person",
    "event form",
}


def _check_all(page, pages: list[tuple[str, str]], *, phone: bool) -> None:
    """Every page in turn; fails once at the end with every page's violations (axe, and sideways scrolling)."""
    problems = []
    for path, name in pages:
        if phone and name in DESKTOP_ONLY:
            continue
        response = page.goto(path)
        assert response is not None and response.status < 500, f"{path}: {response and response.status}"
        page.wait_for_load_state("networkidle")
        violations = axe_violations(page)
        if violations:
            problems.append(f"{name} ({path}):\n{format_violations(violations)}")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if phone and overflow > 0:
            problems.append(f"{name} ({path}): the page scrolls sideways by {overflow} px")
    if problems:
        pytest.fail(f"{len(problems)} page(s) with problems:\n" + "\n".join(problems))


@pytest.fixture
def sessions(make_user, make_event, make_session):
    """One session in each state a member meets, in one public event."""
    instructor = make_user("instructor", name="Aiko Tanaka")
    event = make_event(title="Spring Gasshuku", visibility="public", start_in=timedelta(days=2))
    now = now_utc()
    return {
        "event": event,
        "instructor": instructor,
        "before": make_session(instructor=instructor, event=event, title="Kihon", start_in=timedelta(days=2)),
        "window": make_session(instructor=instructor, event=event, title="Kata", start_in=timedelta(minutes=4)),
        "live": make_session(
            instructor=instructor,
            title="Randori",
            start_in=-timedelta(minutes=5),
            status="live",
            started_at=now - timedelta(minutes=5),
        ),
        "ended": make_session(
            instructor=instructor,
            title="Ukemi",
            start_in=-timedelta(hours=3),
            status="ended",
            started_at=now - timedelta(hours=3),
            ended_at=now - timedelta(hours=2),
        ),
        "public": make_session(instructor=instructor, title="Open class", is_public=True, members_only=False),
    }


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_signed_out_pages_have_no_axe_violations(page_as, sessions, phone):
    page = page_as(None, mobile=phone, width=PHONE_WIDTH)
    pages = [
        ("/", "home signed out"),
        ("/sessions", "sessions list"),
        ("/timetable", "timetable"),
        ("/events", "events"),
        (f"/events/{sessions['event'].id}", "event page signed out"),
        (f"/sessions/{sessions['public'].id}", "public session signed out"),
        (f"/sessions/{sessions['before'].id}", "members-only session signed out (sign-in page)"),
        ("/login", "sign in"),
        ("/signup", "sign up"),
        ("/password-reset", "password reset"),
    ]
    _check_all(page, pages, phone=phone)


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_member_pages_have_no_axe_violations(page_as, make_user, make_seat, sessions, phone):
    member = make_user("member", name="Mika Member")
    make_seat(sessions["window"], member)
    page = page_as(member, mobile=phone, width=PHONE_WIDTH)
    pages = [
        ("/", "home signed in"),
        ("/sessions", "sessions list"),
        ("/timetable", "timetable"),
        (f"/events/{sessions['event'].id}", "event page"),
        (f"/sessions/{sessions['before'].id}", "session before its window"),
        (f"/sessions/{sessions['window'].id}", "session in its window"),
        (f"/sessions/{sessions['live'].id}", "live session"),
        (f"/sessions/{sessions['ended'].id}", "ended session"),
        (f"/sessions/{sessions['window'].id}/join", "join page (waiting for the instructor)"),
        ("/my/schedule", "my schedule"),
        ("/account", "account"),
        ("/recordings", "recordings"),
        ("/my/training-log", "training log"),
        ("/sessions/999999", "a session that does not exist, signed in"),
    ]
    _check_all(page, pages, phone=phone)


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_staff_pages_have_no_axe_violations(page_as, make_user, make_seat, sessions, phone):
    admin = make_user("admin", name="Ada Admin")
    make_seat(sessions["live"], make_user("member", name="Ren Student"))
    page = page_as(admin, mobile=phone, width=PHONE_WIDTH)
    pages = [
        ("/sessions/new", "schedule form"),
        (f"/sessions/{sessions['live'].id}", "live session as staff (attendance)"),
        (f"/sessions/{sessions['live'].id}/attendance", "attendance"),
        ("/admin/users", "people admin"),
        ("/admin/users/new", "add a person"),
        ("/admin/health", "health"),
        ("/admin/audit", "audit log"),
        ("/events/new", "event form"),
    ]
    _check_all(page, pages, phone=phone)


def test_every_page_links_a_favicon_that_is_served(page_as, live_portal):
    page = page_as(None)
    page.goto("/")
    icons = page.locator("link[rel~=icon]")
    assert icons.count() >= 2
    types = set()
    for index in range(icons.count()):
        href = icons.nth(index).get_attribute("href")
        answer = requests.get(live_portal + href, timeout=10)
        assert answer.status_code == 200 and answer.content, href
        types.add(answer.headers["Content-Type"].split(";")[0])
    assert {"image/svg+xml", "image/png"} <= types
    assert requests.get(live_portal + "/static/favicon.ico", timeout=10).status_code == 200


def _session_state(session_id: int):
    from portal.extensions import db
    from portal.training.models import TrainingSession

    db.session.expire_all()
    return db.session.get(TrainingSession, session_id)


def test_a_keyboard_user_on_join_keeps_focus_through_polls_and_changes(page_as, make_user, make_session, make_seat):
    from portal.extensions import db
    from portal.seats import operations as seats

    member = make_user("member", name="Keiko Keyboard")
    session = make_session(title="Kata in the window", start_in=timedelta(minutes=4), capacity=20)
    make_seat(session, member)
    page = page_as(member)
    polls: list[int] = []
    page.on("response", lambda r: polls.append(r.status) if r.url.endswith(f"/sessions/{session.id}/panel") else None)
    page.goto(f"/sessions/{session.id}")
    join = page.locator(f"#join-panel-{session.id}-join")
    expect(join).to_be_enabled()
    # Tab to it, as a keyboard user does (not .focus()): it is reached and shows the focus ring
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == f"join-panel-{session.id}-join":
            break
    expect(join).to_be_focused()
    page.evaluate("id => { document.getElementById(id).portalMark = 'same element'; }", join.get_attribute("id"))

    page.wait_for_timeout(4500)  # two polls at least (every 2 s in the window)
    assert len(polls) >= 2, polls
    expect(join).to_be_focused()

    # the panel changes (someone takes a seat): it is morphed, and the Join button is the very same element
    seats.reserve(_session_state(session.id), make_user("member"))
    db.session.commit()
    expect(page.locator(f"#join-panel-{session.id}")).to_contain_text("2 / 20 seats taken", timeout=10_000)
    assert 200 in polls
    assert page.evaluate("document.activeElement.id") == f"join-panel-{session.id}-join"
    assert page.evaluate("document.activeElement.portalMark") == "same element"

    # the session goes live: announced once in the polite live region (not each second), focus still on Join
    stored = _session_state(session.id)
    stored.status, stored.started_at = "live", now_utc()
    db.session.commit()
    expect(join).to_have_text("Join now", timeout=15_000)
    expect(page.locator("#panel-announcer")).to_have_text(re.compile(r"^Live now: Kata in the window\.$"))
    assert page.locator("[aria-live]").filter(has=page.locator("[data-countdown-to]")).count() == 0
    assert page.evaluate("document.activeElement.id") == f"join-panel-{session.id}-join"
    assert page.evaluate("document.activeElement.portalMark") == "same element"


def test_enter_on_reserve_a_seat_keeps_focus_on_the_panels_new_control(page_as, make_user, make_session):
    member = make_user("member")
    session = make_session(title="Open mat", start_in=timedelta(hours=3), capacity=5)
    page = page_as(member)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(f"/sessions/{session.id}")
    seat = page.locator(f"#join-panel-{session.id}-seat")
    expect(seat).to_have_text("Reserve a seat")
    seat.focus()
    seat.evaluate("el => { el.portalMark = 'same element'; }")
    page.keyboard.press("Enter")
    expect(seat).to_have_text("Cancel my seat")
    expect(seat).to_be_focused()
    assert page.evaluate("document.activeElement.portalMark") == "same element"  # morphed, not replaced
    page.keyboard.press("Enter")  # and back: still on the panel's control, no page reload
    expect(seat).to_have_text("Reserve a seat")
    assert [url.rsplit("/", 1)[-1] for url in posts] == ["seat", "cancel"], posts
    expect(seat).to_be_focused()


def test_a_signed_out_member_following_a_link_signs_in_and_lands_on_the_session(page_as, make_user, make_session):
    member = make_user("member", name="Reminder Reader")
    session = make_session(title="Members' grading", start_in=timedelta(days=1), members_only=True)
    page = page_as(None)
    for path in (f"/sessions/{session.id}", f"/sessions/{session.id + 5000}"):
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to see this page")
        assert "Members' grading" not in page.content()
    page.goto(f"/sessions/{session.id}/join")
    page.get_by_role("link", name="Sign in", exact=True).last.click()
    page.get_by_label("Email").fill(member.email)
    from tests.conftest import PASSWORD

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/sessions/{session.id}/join") or f"/sessions/{session.id}" in page.url
    expect(page.locator("body")).to_contain_text("Members' grading")
