"""The recordings library as its people use it (issue 12, SPEC "After the session"): a member signs in, opens
/recordings, finds the ready recording of a members-only session, clicks Watch and lands on the provider's page
(the local provider's development page, its link asked for at the click); a `public` user's library lists only the
recording open to all, and the members-only one's watch address is a 404 for them. The page passes axe."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from portal.core.clock import now_utc
from portal.extensions import db
from tests.plugins.browser import assert_accessible

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def recorded(make_session, make_user):
    """recorded(title, members_only) -> an ended session (an hour ago) whose recording is ready."""
    instructor = make_user("instructor", name="Kenji Sato")

    def factory(title: str, *, members_only: bool):
        ended = now_utc() - timedelta(hours=1)
        session = make_session(
            instructor=instructor,
            title=title,
            start_time=ended - timedelta(hours=1),
            is_public=True,
            members_only=members_only,
            recording_enabled=True,
            status="ended",
            started_at=ended - timedelta(hours=1),
            ended_at=ended,
            recording_id="rec-journey",
            recording_status="ready",
            recording_url_expires_at=now_utc() + timedelta(days=7),
        )
        db.session.commit()
        return session

    return factory


def test_a_member_watches_a_members_only_recording_and_a_public_user_never_sees_it(page_as, make_user, recorded, shot):
    members_only = recorded("Members kata, 1 December", members_only=True)
    open_to_all = recorded("Open randori, 1 December", members_only=False)

    page = page_as(make_user("member", name="Ana Souza"))
    page.goto("/recordings")
    expect(page.get_by_role("heading", name="Recordings", level=1)).to_be_visible()
    item = page.locator("li.session-item").filter(has_text=members_only.title)
    expect(item).to_be_visible()
    expect(item).to_contain_text("Members only")
    expect(page.locator("li.session-item").filter(has_text=open_to_all.title)).to_be_visible()
    watch = item.get_by_role("link", name="Watch")
    expect(watch).to_have_attribute("href", f"/recordings/{members_only.id}/watch")
    assert "local-recording.html" not in page.content()  # no provider link in the page
    assert_accessible(page, "recordings-01-member-library")
    shot(page, "recordings-01-member-library")

    with page.context.expect_page() as opened:
        watch.click()
    provider = opened.value
    provider.wait_for_load_state()
    expect(provider).to_have_url(re.compile(r"/static/video/local-recording\.html"))
    expect(provider.get_by_role("heading", name="No recording here")).to_be_visible()
    shot(provider, "recordings-02-provider-page")

    public_page = page_as(make_user("public", name="Pat Public"))
    public_page.goto("/recordings")
    expect(public_page.locator("li.session-item").filter(has_text=open_to_all.title)).to_be_visible()
    expect(public_page.locator("main")).not_to_contain_text(members_only.title)
    expect(public_page.locator(f'a[href="/recordings/{members_only.id}/watch"]')).to_have_count(0)
    assert_accessible(public_page, "recordings-03-public-library")
    response = public_page.goto(f"/recordings/{members_only.id}/watch")
    assert response is not None and response.status == 404
    expect(public_page.locator("main")).not_to_contain_text(members_only.title)
