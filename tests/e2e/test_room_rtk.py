"""The real Cloudflare room page in Chromium (fake camera and microphone): the portal's join page for a live
session, the vendored RealtimeKit UI Kit and SDK (2.0.2, SRI-checked by the browser), against the fake RealtimeKit.

The SDK's own API host (https://api.realtime.cloudflare.com) is routed by Playwright to the fake's HTTP server,
so the fake sees the SDK's first request exactly as RealtimeKit would. What the fake cannot do is the SDK's media
and socket protocol (protobuf over wss://socket-edge...): those requests are aborted, as on a network without the
provider, and the room then shows its "cannot be reached" message. What is tested: init is called with this
person's participant token and the session's chat setting; the SDK's first request reaches the fake carrying that
token (the fake answers only tokens it issued), then the SDK opens its socket for that meeting with it; scripts
and styles come only from the portal, other requests only go to RealtimeKit's hosts, and the CSP blocks nothing
but the UI Kit's Google Fonts stylesheet; the page shows a clear message (not a blank page) when the provider
cannot be reached. Not tested (the fake cannot): a completed join, media, and the UI Kit's in-meeting screens."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.serving import make_server

from portal.core.clock import now_utc
from portal.extensions import db as _db
from portal.video.cloudflare.room import REALTIME_HOSTS, UI_KIT_HOSTS
from tests.conftest import PASSWORD
from tests.plugins.browser import CHROMIUM_ARGS, ensure_chromium, free_port
from tests.plugins.realtimekit_api import _error
from tests.plugins.realtimekit_fake import FakeRealtimeKit, serve
from tests.plugins.video import cloudflare_settings

pytestmark = pytest.mark.e2e

SDK_API = "https://api.realtime.cloudflare.com"
MEDIA_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
# Records every RealtimeKitClient.init call of the page (the SDK bundle assigns the global once it has run).
SPY_INIT = """
window.__rtkInits = [];
let __rtk;
Object.defineProperty(window, "RealtimeKitClient", {
  configurable: true,
  get() { return __rtk; },
  set(client) {
    const init = client.init.bind(client);
    client.init = (options) => {
      window.__rtkInits.push({ authToken: options.authToken, modules: options.modules || null });
      return init(options);
    };
    __rtk = client;
  },
});
document.addEventListener("securitypolicyviolation", (e) => {
  (window.__cspViolations = window.__cspViolations || []).push(e.violatedDirective + " " + e.blockedURI);
});
"""


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class RoomFake(FakeRealtimeKit):
    """The fake RealtimeKit, with participant tokens shaped as RealtimeKit's are (a JWT whose payload names the
    meeting, organisation and participant: the SDK reads them before its first request) and the SDK's first
    call, `GET /v2/internals/participant-details`, answered for a token it issued and refused otherwise."""

    def _add_participant(self, meeting_id: str, body: dict[str, Any]) -> tuple[int, Any]:
        self._meeting_for_token = meeting_id
        return super()._add_participant(meeting_id, body)

    def _token(self) -> str:
        payload = {"meetingId": getattr(self, "_meeting_for_token", ""), "orgId": self.app_id, "participantId": "p"}
        token = f"{_b64({'alg': 'RS256', 'typ': 'JWT'})}.{_b64(payload)}.fake-signature"
        self.tokens_issued.append(token)
        return token

    def _route(self, method, path, relative, query, headers, payload) -> tuple[int, Any]:
        if not path.startswith("/v2/"):
            return super()._route(method, path, relative, query, headers, payload)
        token = headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens_issued:
            return 401, _error(401, "Unauthorized")
        if path == "/v2/internals/participant-details":
            return 200, {"success": True, "data": self.participant_details(token)}
        return 404, _error(404, "No route for that URI")

    def participant_details(self, token: str) -> dict[str, Any]:
        with self.lock:
            for meeting_id, people in self.participants.items():
                for person in people.values():
                    if person["token"] == token:
                        return {
                            "participant": {"id": person["id"], "name": person["name"], "user_id": person["id"]},
                            "preset": {"name": person["preset_name"]},
                            "meeting": {"title": self.meetings[meeting_id].get("title", "")},
                            "socket": {"base_uri": "realtime.cloudflare.com"},
                        }
        return {}


@pytest.fixture(scope="module")
def room_fake() -> Iterator[RoomFake]:
    with serve(RoomFake()) as fake:
        yield fake


@pytest.fixture(scope="module")
def media_browser(playwright_driver) -> Iterator[Any]:
    browser = playwright_driver.chromium.launch(executable_path=ensure_chromium(), args=CHROMIUM_ARGS + MEDIA_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def room_portal(make_app, room_fake, db) -> Iterator[str]:
    """The portal with the fake RealtimeKit as its provider, served on a free port from a thread."""
    room_fake.reset()
    app = make_app(**cloudflare_settings(room_fake))
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="room-portal", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def _open_room(media_browser, url: str, member, session, *, provider_reachable: bool, fake: RoomFake):
    context = media_browser.new_context(base_url=url, permissions=["camera", "microphone"])
    context.set_default_timeout(20_000)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.add_init_script(SPY_INIT)

    def route(route) -> None:
        """The portal itself; the SDK's API host to the fake (or refused: provider unreachable); nothing else
        ever leaves the machine (the page's CSP should stop it first: see the violations)."""
        request_url = route.request.url
        if request_url.startswith(url):
            route.continue_()
        elif request_url.startswith(SDK_API + "/") and provider_reachable:
            parts = urlsplit(request_url)
            target = f"{fake.url}{parts.path}{'?' + parts.query if parts.query else ''}"
            if route.request.method == "OPTIONS":  # the CORS preflight RealtimeKit answers
                route.fulfill(status=204, headers=_cors(url))
                return
            response = route.fetch(url=target)
            route.fulfill(response=response, headers={**response.headers, **_cors(url)})
        else:
            route.abort("connectionrefused")

    page.route("**/*", route)
    # The SDK's socket (RealtimeKit's own protobuf protocol, which the fake does not speak) is noted and closed
    # here: it never leaves the machine, even where the test machine has internet access.
    page.route_web_socket(re.compile(".*"), lambda socket: (requests.append(socket.url), socket.close()))
    page.goto("/login")
    page.get_by_label("Email").fill(member.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    page.goto(f"/sessions/{session.id}/join")
    page.locator("form[action$='/join'] button[type=submit]").first.click()
    page.wait_for_selector("rtk-meeting")
    return context, page, requests


def _cors(origin: str) -> dict[str, str]:
    return {
        "access-control-allow-origin": origin,
        "access-control-allow-headers": "authorization, content-type",
        "access-control-allow-methods": "GET, POST, PUT, DELETE",
    }


def _until(page, expression: str, timeout: float = 20.0) -> Any:
    """Poll `expression` until it is truthy (wait_for_function evaluates strings, which the room's CSP forbids)."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value or time.monotonic() > deadline:
            assert value, f"still false after {timeout} s: {expression}"
            return value
        page.wait_for_timeout(100)


def _assert_only_the_portal_and_the_provider(page, requests: list[str], portal: str) -> None:
    """Every script and style from the portal (the vendored kit, no CDN); beyond it only RealtimeKit's own hosts;
    the only thing the CSP had to stop is the UI Kit's Google Fonts stylesheet (never fetched)."""
    assert any(u.endswith("/static/vendor/realtimekit-2.0.2/realtimekit-ui/browser.js") for u in requests)
    assert any(u.endswith("/static/vendor/realtimekit-2.0.2/realtimekit/browser.js") for u in requests)
    foreign = {urlsplit(u).netloc for u in requests if not u.startswith((portal, "data:", "blob:"))}
    assert foreign <= set(REALTIME_HOSTS) | set(UI_KIT_HOSTS) | {"fonts.googleapis.com"}, foreign
    violations = page.evaluate("window.__cspViolations || []")
    assert all(v.startswith("style-src-elem https://fonts.googleapis.com/") for v in violations), violations
    fonts = [u for u in requests if urlsplit(u).netloc == "fonts.googleapis.com"]
    assert len(violations) == len(fonts)  # each one blocked by the CSP, none fetched


def _live_session(make_session, **fields):
    session = make_session(start_in=timedelta(minutes=-5), status="live", started_at=now_utc(), **fields)
    _db.session.commit()
    return session


def test_the_room_starts_the_vendored_sdk_with_this_persons_token(
    media_browser, room_portal, room_fake, make_session, make_user, shot
):
    member = make_user("member")
    session = _live_session(make_session, chat_enabled=False)
    context, page, requests = _open_room(
        media_browser, room_portal, member, session, provider_reachable=True, fake=room_fake
    )
    try:
        _until(page, "window.__rtkInits && window.__rtkInits.length > 0")
        _until(page, "document.getElementById('rtk-status').textContent !== 'Loading the meeting room…'")
        inits = page.evaluate("window.__rtkInits")
        shot(page, "room-rtk-initialised")
        token = room_fake.tokens_issued[-1]
        assert inits == [{"authToken": token, "modules": {"chat": False}}]  # chat_enabled off reaches the SDK
        first = room_fake.calls("GET", "/v2/internals/participant-details")
        assert first and first[0].headers["authorization"] == f"Bearer {token}"
        meeting_id = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["meetingId"]
        assert meeting_id in room_fake.meetings
        assert page.locator("rtk-meeting").get_attribute("data-auth-token") is None  # read, then dropped
        # Then the SDK opens its socket to RealtimeKit for this meeting, with the same token (the fake cannot
        # speak that protocol: the socket fails, init fails, and the page says so).
        socket = next(u for u in requests if u.startswith("wss://socket-edge.realtime.cloudflare.com/ws?"))
        assert parse_qs(urlsplit(socket).query)["roomID"] == [meeting_id]
        assert parse_qs(urlsplit(socket).query)["authToken"] == [token]
        _assert_only_the_portal_and_the_provider(page, requests, room_portal)
    finally:
        context.close()


def test_the_room_says_plainly_when_the_provider_cannot_be_reached(
    media_browser, room_portal, room_fake, make_session, make_user, shot
):
    member = make_user("member")
    session = _live_session(make_session)
    context, page, requests = _open_room(
        media_browser, room_portal, member, session, provider_reachable=False, fake=room_fake
    )
    try:
        status = page.locator("#rtk-status")
        status.filter(has_text="cannot be reached").wait_for()
        shot(page, "room-rtk-unreachable")
        assert status.get_attribute("role") == "alert"
        assert page.evaluate("window.__rtkInits") == [
            {"authToken": room_fake.tokens_issued[-1], "modules": {"chat": True}}
        ]
        assert room_fake.calls("GET", "/v2/") == []  # nothing reached the provider
        assert page.locator("rtk-meeting").is_hidden()
        _assert_only_the_portal_and_the_provider(page, requests, room_portal)
    finally:
        context.close()
