"""Account journeys in a real browser against the whole portal (`portal run`: web, worker, cron), its emails going
to a real SMTP sink: a member who forgot her password gets back in through the emailed link, and her other
browser is signed out.

Screenshots go under test-artifacts/e2e/ (account-*)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.plugins.browser import assert_accessible, serve_portal
from tests.plugins.mail import SmtpSink

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NEW_PASSWORD = "my fresh passphrase 7"


@pytest.fixture(scope="module")
def module_smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def live_portal(base_config, app, tmp_path_factory, module_smtp_sink) -> Iterator[str]:
    """tests/plugins/browser.py's live portal, with its mail going to this module's SMTP sink."""
    with serve_portal(base_config, tmp_path_factory.mktemp("live-accounts"), **module_smtp_sink.settings) as url:
        yield url


def wait_for_mail(sink: SmtpSink, to: str, subject: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in list(sink.messages):
            if to in message["To"] and message["Subject"] == subject:
                return message
        time.sleep(0.2)
    raise AssertionError(f"no {subject!r} email to {to} within {timeout} s")


def test_a_member_who_forgot_her_password_resets_it_from_the_email(
    page_as, make_user, module_smtp_sink, live_portal, shot
):
    member = make_user("member", name="Hana Mori", email="hana@example.org", timezone="Europe/Berlin")
    other_browser = page_as(member)  # signed in elsewhere: the reset must end that sign-in
    expect(other_browser.locator(".nav-user")).to_contain_text("Hana Mori")

    page = page_as(None)
    page.goto("/login")
    page.get_by_role("link", name="Forgot password?").click()
    page.get_by_label("Email").fill("hana@example.org")
    shot(page, "account-01-forgot-password")
    assert_accessible(page, "account-01-forgot-password")
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")

    message = wait_for_mail(module_smtp_sink, "hana@example.org", "Reset your password")
    text = message.get_body(("plain",)).get_content()
    assert "CET" in text  # when the link ends, in her zone
    link = re.search(rf"{re.escape(live_portal)}/password-reset/\S+", text).group(0)

    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    page.get_by_label("New password").fill("password1234")
    page.get_by_role("button", name="Set the new password").click()
    expect(page.locator("main")).to_contain_text("common passwords")
    shot(page, "account-02-common-password-refused")
    assert_accessible(page, "account-02-common-password-refused")
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the new password").click()
    expect(page.locator("main")).to_contain_text("Your new password is set")
    expect(page.locator(".nav-user")).to_contain_text("Hana Mori")
    shot(page, "account-03-signed-in-after-reset")
    assert_accessible(page, "account-03-signed-in-after-reset")

    other_browser.reload()
    expect(other_browser.locator(".nav-user")).to_contain_text("Sign in")  # the other sign-in ended

    page.goto(link)  # the link works once
    expect(page.get_by_role("heading", level=1)).to_have_text("This link was already used")
    shot(page, "account-04-link-used")
    assert_accessible(page, "account-04-link-used")

    fresh = page_as(member, password=NEW_PASSWORD)
    expect(fresh.locator(".nav-user")).to_contain_text("Hana Mori")
