"""People journeys in headless Chromium against the real portal (web, worker, cron) sending mail to a real SMTP
sink: an admin adds and invites a person, who follows the emailed link, chooses a password and signs in.

Screenshots go to test-artifacts/e2e/people-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.accounts.models import User
from portal.extensions import db
from tests.plugins.browser import assert_accessible, serve_portal
from tests.plugins.mail import SmtpSink

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
NEW_PASSWORD = "sunrise over the dojo"


@pytest.fixture(scope="module")
def people_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def live_portal(base_config, app, tmp_path_factory, people_sink) -> Iterator[str]:
    """tests/plugins/browser.py's live portal, its mail sent to this module's SMTP sink."""
    with serve_portal(base_config, tmp_path_factory.mktemp("people-live-instance"), **people_sink.settings) as url:
        yield url


def test_an_admin_invites_a_person_who_sets_a_password_from_the_email_and_signs_in(
    page_as, make_user, people_sink, shot
):
    admin = make_user("admin", name="Aiko Admin", timezone="Europe/Berlin")
    page = page_as(admin)
    page.goto("/admin/users")
    page.get_by_role("link", name="Add a person").click()
    page.get_by_label("Name").fill("Mina Okafor")
    page.get_by_label("Email").fill("mina.okafor@example.org")
    page.get_by_label("Role").select_option("member")
    page.locator("select[name=timezone]").select_option("Africa/Lagos")
    expect(page.get_by_label("Send them an invitation now")).to_be_checked()
    shot(page, "people-01-add-person")
    assert_accessible(page, "people-01-add-person")
    page.get_by_role("button", name="Add the person").click()
    expect(page.locator("#messages")).to_contain_text("an invitation is on its way to mina.okafor@example.org")
    expect(page.locator("main")).to_contain_text("Mina Okafor")
    shot(page, "people-02-users-after-invite")
    assert_accessible(page, "people-02-users-after-invite")

    messages = people_sink.wait_for(1, timeout=60)
    [mail] = [m for m in messages if m["To"].addresses[0].addr_spec == "mina.okafor@example.org"]
    text = mail.get_body(("plain",)).get_content()
    link = re.search(r"http://127\.0\.0\.1:\d+/invitation/\S+", text).group(0)

    invitee = page_as(None, timezone="Africa/Lagos")
    invitee.goto(link)
    expect(invitee.get_by_role("heading", level=1)).to_contain_text("Welcome, Mina Okafor")
    invitee.get_by_label("New password").fill(NEW_PASSWORD)
    shot(invitee, "people-03-invitee-sets-password")
    assert_accessible(invitee, "people-03-invitee-sets-password")
    invitee.get_by_role("button", name="Set my password").click()
    expect(invitee.locator("#messages")).to_contain_text("Your password is set")

    db.session.expire_all()
    mina = db.session.scalar(select(User).where(User.email == "mina.okafor@example.org"))
    assert (mina.role, mina.timezone, mina.email_verified_at is not None) == ("member", "Africa/Lagos", True)
    again = page_as(mina, password=NEW_PASSWORD)  # the real sign-in form, in a fresh browser
    again.goto("/account")
    expect(again.get_by_role("heading", level=1)).to_contain_text("Your settings")
    expect(again.locator("main")).to_contain_text("mina.okafor@example.org")
    shot(again, "people-04-invitee-profile")
    assert_accessible(again, "people-04-invitee-profile")
