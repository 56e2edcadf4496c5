"""Polling at scale in a real browser (SPEC "Polling at scale"): an event page polls once for all its panels, an
unchanged answer is a 304 that touches nothing, a changed panel is swapped in out of band, and keyboard focus
stays where it was."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.seats import operations as seats
from portal.training.models import TrainingSession
from tests.plugins.browser import assert_accessible

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _session(session_id: int) -> TrainingSession:
    db.session.expire_all()
    return db.session.get(TrainingSession, session_id)


def test_an_event_page_polls_once_refreshes_the_changed_panel_and_keeps_focus(
    page_as, make_user, make_event, make_session, shot
):
    member = make_user("member", name="Poll Watcher")
    event = make_event(title="Spring Gasshuku", visibility="public")
    # both inside the join window, waiting for the instructor: the page polls every 2 s
    first = make_session(event=event, title="Morning kihon", start_in=timedelta(minutes=4), capacity=20)
    second = make_session(event=event, title="Evening kata", start_in=timedelta(minutes=6), capacity=20)
    page = page_as(member)
    polls: list[tuple[str, int]] = []
    page.on("response", lambda r: polls.append((r.url, r.status)) if "/sessions/" in r.url else None)
    page.goto(f"/events/{event.id}")

    assert page.locator("[hx-trigger^='every']").count() == 1  # one poller for the whole page
    poller = page.locator("#panel-poller")
    expect(poller).to_have_attribute("hx-trigger", "every 2s")

    # focus a button in the second panel; mark both panels' elements to see whether they get replaced
    seat_button = page.locator(f"#join-panel-{second.id}-seat")
    seat_button.focus()
    page.evaluate(
        """([a, b]) => { document.getElementById(a).dataset.mark = "kept";
                          document.getElementById(b).dataset.mark = "kept"; }""",
        [f"join-panel-{first.id}", f"join-panel-{second.id}-seat"],
    )
    page.wait_for_timeout(4500)  # two polls at least, nothing changed
    assert [status for url, status in polls if "/sessions/panels" in url][-2:] == [304, 304]
    assert not [url for url, _ in polls if url.endswith("/panel")], "no panel polls by itself"

    # someone else takes a seat in the first session: only its panel is swapped in, focus stays put
    seats.reserve(_session(first.id), make_user("member"))
    db.session.commit()
    panel = page.locator(f"#join-panel-{first.id}")
    expect(panel).to_contain_text("1 / 20 seats taken", timeout=10_000)
    assert panel.get_attribute("data-mark") is None  # the changed panel is new
    assert seat_button.get_attribute("data-mark") == "kept"  # the unchanged one was not touched
    assert page.evaluate("document.activeElement && document.activeElement.id") == f"join-panel-{second.id}-seat"
    assert page.locator("[hx-trigger^='every']").count() == 1
    shot(page, "poll-01-event-page-after-a-change")
    assert_accessible(page, "poll-01-event-page-after-a-change")

    # now the focused panel itself changes: it is swapped, and focus returns to the same button in it
    seats.reserve(_session(second.id), make_user("member"))
    db.session.commit()
    expect(page.locator(f"#join-panel-{second.id}")).to_contain_text("1 / 20 seats taken", timeout=10_000)
    assert seat_button.get_attribute("data-mark") is None  # replaced ...
    assert page.evaluate("document.activeElement && document.activeElement.id") == f"join-panel-{second.id}-seat"

    # the countdown keeps ticking in the browser between polls
    countdown = page.locator(f"#join-panel-{first.id} [data-countdown-to]")
    if countdown.count():
        before = countdown.first.text_content()
        page.wait_for_timeout(1500)
        assert countdown.first.text_content() != before


def test_the_seat_button_on_an_event_page_replaces_its_panel_and_the_page_still_polls_once(
    page_as, make_user, make_event, make_session
):
    member = make_user("member")
    event = make_event(visibility="public")
    session = make_session(event=event, title="Open mat", start_in=timedelta(minutes=30), capacity=5)
    make_session(event=event, title="Closing talk", start_in=timedelta(hours=3))
    page = page_as(member)
    page.goto(f"/events/{event.id}")
    page.locator(f"#join-panel-{session.id}").get_by_role("button", name="Reserve a seat").click()
    expect(page.locator(f"#join-panel-{session.id}")).to_contain_text("You have a seat.")
    assert page.locator("[hx-trigger^='every']").count() == 1
    expect(page.locator(f"#join-panel-{session.id}-seat")).to_be_focused()
