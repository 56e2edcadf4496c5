"""The end of a session as its people live it: a member is in the room (the local video provider), the instructor
ends the session from the session page, and the member's browser is on the ended page within 10 seconds, with
the recording to come and the next session of the series; the badge no longer says Live. And in a RealtimeKit
room (the fake Cloudflare provider), the SDK's meeting-ended event (`roomLeft` with state `ended`) takes the
member there at once, before the portal has heard of the end."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from portal.core.clock import now_utc
from portal.extensions import db
from portal.training.models import TrainingSession
from portal.training.series_models import TrainingSeries
from tests.conftest import PASSWORD
from tests.e2e.test_room_rtk import room_fake  # noqa: F401 (the fake RealtimeKit, a fixture)
from tests.plugins.browser import free_port
from tests.plugins.video import cloudflare_settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_instructor_ends_the_session_and_the_member_lands_on_the_ended_page(page_as, make_user, make_session, shot):
    instructor = make_user("instructor", name="Kenji Sato")
    member = make_user("member", name="Ana Souza")
    series = TrainingSeries(
        instructor_id=instructor.id,
        title="Weekly kata",
        duration_minutes=60,
        first_start=datetime(2026, 12, 1, 18, 0),  # noqa: DTZ001 (the rule's local wall-clock time)
        time_zone="UTC",
        weekdays="TU",
    )
    db.session.add(series)
    db.session.commit()
    session = make_session(
        instructor=instructor,
        title="Kata, week 1",
        start_in=timedelta(minutes=-5),
        status="live",
        capacity=10,
        recording_enabled=True,
        series_id=series.id,
    )
    following = make_session(
        instructor=instructor, title="Kata, week 2", start_in=timedelta(days=7), series_id=series.id
    )

    member_page = page_as(member)
    member_page.goto(f"/sessions/{session.id}/join")
    member_page.get_by_role("button", name="Join now").click()
    expect(member_page.get_by_role("heading", name="Development room — no video")).to_be_visible()
    expect(member_page.locator("#session-badge")).to_have_text("Live")
    shot(member_page, "end-01-member-in-room")

    instructor_page = page_as(instructor)
    instructor_page.on("dialog", lambda dialog: dialog.accept())
    instructor_page.goto(f"/sessions/{session.id}")
    instructor_page.get_by_role("button", name="End the session for everyone").click()
    expect(instructor_page.locator("main")).to_contain_text("The session has ended")
    ended_at = time.monotonic()
    db.session.expire_all()
    assert db.session.get(TrainingSession, session.id).status == "ended"

    expect(member_page).to_have_url(re.compile(rf"/sessions/{session.id}/ended$"), timeout=10_000)
    assert time.monotonic() - ended_at < 10
    main = member_page.locator("main")
    expect(main).to_contain_text("This session has ended.")
    expect(main).to_contain_text("The recording will be listed in Recordings when it is ready.")
    expect(member_page.get_by_role("link", name="Recordings", exact=True).last).to_have_attribute("href", "/recordings")
    expect(main.get_by_role("link", name="Kata, week 2")).to_have_attribute("href", f"/sessions/{following.id}")
    expect(main.locator(".badge")).to_have_text("Ended")
    expect(main).not_to_contain_text("Live")
    shot(member_page, "end-02-member-on-the-ended-page")


# The RealtimeKit SDK and UI Kit replaced by stand-ins (the vendored bundles still load, SRI-checked, but cannot set
# their globals): init gives a meeting whose `self.on` handlers the test calls, as the SDK would on the meeting's end.
STAND_IN_SDK = """
window.__rtkHandlers = {};
const standIn = {
  init: async () => ({ self: { on: (name, handler) => { window.__rtkHandlers[name] = handler; } } }),
};
Object.defineProperty(window, "RealtimeKitClient", { configurable: true, get: () => standIn, set: () => {} });
Object.defineProperty(window, "RtkUiKit", {
  configurable: true, get: () => ({ defineCustomElements: () => {} }), set: () => {},
});
"""


@pytest.fixture
def cloudflare_portal(make_app, room_fake) -> Iterator[str]:  # noqa: F811
    """The portal with the fake RealtimeKit as its provider served from a thread."""
    room_fake.reset()
    app = make_app(**cloudflare_settings(room_fake))
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="end-portal", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_providers_meeting_end_takes_the_member_to_the_ended_page(
    browser, cloudflare_portal, make_user, make_session, shot
):
    member = make_user("member")
    session = make_session(
        title="Evening randori", start_in=timedelta(minutes=-5), status="live", started_at=now_utc(), capacity=5
    )
    context = browser.new_context(base_url=cloudflare_portal)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.add_init_script(STAND_IN_SDK)
        # nothing leaves the machine: the portal only
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(cloudflare_portal) else r.abort())
        page.goto("/login")
        page.get_by_label("Email").fill(member.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        page.goto(f"/sessions/{session.id}/join")
        page.get_by_role("button", name="Join now").click()
        page.wait_for_selector("rtk-meeting")
        deadline = time.monotonic() + 15
        while not page.evaluate("typeof window.__rtkHandlers.roomLeft === 'function'"):
            assert time.monotonic() < deadline, "room-rtk.js never listened for roomLeft"
            page.wait_for_timeout(100)

        page.evaluate("window.__rtkHandlers.roomLeft({ state: 'left' })")  # leaving oneself is not the end
        expect(page.locator("#rtk-status")).to_have_text("You have left the meeting.")
        assert page.url.endswith(f"/sessions/{session.id}/join")

        ended = time.monotonic()
        page.evaluate("window.__rtkHandlers.roomLeft({ state: 'ended' })")
        expect(page).to_have_url(re.compile(rf"/sessions/{session.id}/ended$"), timeout=10_000)
        assert time.monotonic() - ended < 10
        # the provider's word came first: the page says the meeting ended, and claims no more than it knows
        expect(page.locator("main")).to_contain_text("The meeting has ended.")
        shot(page, "end-03-provider-meeting-ended")
    finally:
        context.close()
