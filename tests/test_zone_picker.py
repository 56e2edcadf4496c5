"""The time-zone picker's filter box in Chromium (static/js/zone-picker.js): typing narrows the grouped list and takes
the first match; the chosen zone is what the form sends. The pages come from the Flask test client (no server)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e]

BASE = "http://portal.test"


@pytest.fixture
def page(browser, app):
    """A Chromium page whose every request is answered by a test client of the app (the browser keeps the cookies)."""
    client = app.test_client(use_cookies=False)
    context = browser.new_context(base_url=BASE, timezone_id="Europe/Berlin")

    def answer(route):
        request = route.request
        url = urlsplit(request.url)
        path = url.path + (f"?{url.query}" if url.query else "")
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("cookie", "content-type")}
        response = client.open(path, method=request.method, data=request.post_data_buffer, headers=headers)
        body = response.get_data()
        response.close()  # a static file's handle
        route.fulfill(status=response.status_code, headers=dict(response.headers), body=body)

    context.route(f"{BASE}/**", answer)
    page = context.new_page()
    yield page
    context.close()


def test_typing_narrows_the_list_and_picks_the_first_match(page):
    page.goto("/signup")
    zone = page.locator("#f-timezone")
    search = page.get_by_label("Find a city or country in the list")
    expect(search).to_be_visible()
    expect(zone).to_have_value("Europe/Berlin")  # the browser's zone (portal.js's cookie, one reload)

    search.fill("sao paulo")  # typed without the accent
    expect(zone).to_have_value("America/Sao_Paulo")
    assert zone.locator("option").count() == 2  # São Paulo, and Berlin: the choice made stays listed until changed
    expect(page.locator(".zone-count")).to_have_text("1 zone matches")

    search.fill("india")
    expect(zone).to_have_value("Asia/Kolkata")
    search.fill("zzzz")
    expect(page.locator(".zone-count")).to_have_text("No zone matches “zzzz”")
    expect(zone).to_have_value("Asia/Kolkata")  # nothing matches: the choice stays

    search.fill("")
    assert zone.locator("option").count() > 400 and zone.locator("optgroup").count() == 11
    search.press("Enter")  # picks, does not submit
    assert page.url.endswith("/signup")
    expect(zone).to_have_value("Asia/Kolkata")


def test_without_javascript_the_list_is_a_plain_grouped_select(browser, client):
    context = browser.new_context(base_url=BASE, java_script_enabled=False)

    def answer(route):
        response = client.get(urlsplit(route.request.url).path)
        body = response.get_data()
        response.close()
        route.fulfill(status=response.status_code, content_type=response.content_type, body=body)

    context.route(f"{BASE}/**", answer)
    page = context.new_page()
    try:
        page.goto("/signup")
        expect(page.get_by_label("Find a city or country in the list")).to_be_hidden()
        page.locator("#f-timezone").select_option("Asia/Tokyo")
        expect(page.locator("#f-timezone")).to_have_value("Asia/Tokyo")
    finally:
        context.close()
