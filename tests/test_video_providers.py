"""Video providers register themselves behind the port. An unknown PORTAL_VIDEO_PROVIDER stops the app at start;
a third provider (`echo`, defined here and registered for the test only) brings its own room partial, CSP, check
and webhooks, and the portal's edge (join page, room headers, `portal video ...`, /webhooks/<name>) uses them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from jinja2 import ChoiceLoader, DictLoader
from sqlalchemy import select

from portal.config import ConfigError, Settings
from portal.core.clock import now_utc
from portal.video import get_provider, registry, webhooks
from portal.video.local import LocalProvider
from portal.video.models import WebhookDelivery
from portal.video.port import Echo, JoinGrant, ProviderKind, ProviderWebhooks, WebhookAnswer
from portal.video.views import room_headers
from tests.conftest import sign_in

ECHO_CSP = "default-src 'self'; connect-src 'self' wss://rooms.echo.example; frame-ancestors 'none'"
ECHO_ROOM = (
    '<section class="room room-echo" data-sdk="{{ provider.room_assets.sdk_url }}" '
    'data-auth-token="{{ grant.token }}">Echo room for {{ user.name }}</section>'
)


class EchoProvider(LocalProvider):
    """A third provider: the local provider's rooms under another name, built from settings."""

    name = "echo"

    def __init__(self, base_url: str):
        self.base_url = base_url

    @classmethod
    def from_settings(cls, settings: Settings) -> EchoProvider:
        return cls(settings.BASE_URL)


def check_echo(settings: Settings, echo: Echo) -> bool:
    if not settings.BASE_URL.startswith("https://"):
        echo("FAIL: echo rooms need an https PORTAL_BASE_URL.")
        return False
    echo(f"video provider: echo, for {settings.BASE_URL}: OK.")
    return True


def echo_kind(**fields: Any) -> ProviderKind:
    return ProviderKind(
        **{
            "name": "echo",
            "build": EchoProvider.from_settings,
            "room_template": "video/_room_echo.html",
            "check": check_echo,
            "room_csp": ECHO_CSP,
            "room_assets": {"sdk_url": "https://rooms.echo.example/sdk.js"},
            **fields,
        }
    )


@pytest.fixture
def register(monkeypatch):
    """register(kind): known to the portal for this test only (the registry is restored after it)."""
    monkeypatch.setattr(registry, "KINDS", dict(registry.KINDS))
    return registry.register


@pytest.fixture
def echo_app(make_app, register, db) -> Iterator[Any]:
    """An app whose configured provider is `echo`, with the echo room partial; its context pushed for the test."""
    register(echo_kind())
    app = make_app(VIDEO_PROVIDER="echo")
    app.jinja_env.loader = ChoiceLoader([DictLoader({"video/_room_echo.html": ECHO_ROOM}), app.jinja_env.loader])
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


# --------------------------------------------------------------------------------------------- start
def test_an_unknown_provider_stops_the_app_naming_the_registered_ones(make_app, register):
    register(echo_kind())
    with pytest.raises(ConfigError) as caught:
        make_app(VIDEO_PROVIDER="zoom")
    message = str(caught.value)
    assert "PORTAL_VIDEO_PROVIDER" in message and "'zoom'" in message
    assert "cloudflare, echo, local" in message


def test_two_providers_cannot_share_a_name(register):
    with pytest.raises(ValueError, match="'local'"):
        register(echo_kind(name="local"))


def test_a_registered_third_provider_is_built_from_settings_once_per_app(echo_app):
    provider = get_provider()
    assert isinstance(provider, EchoProvider) and provider.base_url == "http://portal.test"
    assert get_provider() is provider


# --------------------------------------------------------------------------------------------- room page
def test_the_third_provider_renders_its_own_room_partial_with_its_csp(echo_app, make_session, make_user):
    session = make_session(start_in=timedelta(minutes=-2), status="live", started_at=now_utc(), capacity=10)
    member = make_user("member", name="Aiko")
    client = echo_app.test_client()
    sign_in(client, member)
    response = client.post(f"/sessions/{session.id}/join")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[-1500:]
    assert "Echo room for Aiko" in html and 'data-sdk="https://rooms.echo.example/sdk.js"' in html
    assert "Development room" not in html and "<rtk-meeting" not in html
    assert 'data-auth-token="' in html
    assert response.headers["Content-Security-Policy"] == ECHO_CSP
    assert response.headers["Cache-Control"].startswith("no-store")


def test_room_headers_take_the_csp_of_the_provider_that_issued_the_grant(app, register):
    register(echo_kind())
    response = room_headers(app.response_class("x"), JoinGrant("echo", "r", "t", "p", False))
    assert response.headers["Content-Security-Policy"] == ECHO_CSP
    assert response.headers["Cache-Control"].startswith("no-store")


# --------------------------------------------------------------------------------------------- commands
def test_portal_video_check_runs_the_configured_providers_own_check(portal_command, register):
    register(echo_kind())
    ok = portal_command("video", "check", VIDEO_PROVIDER="echo", BASE_URL="https://portal.example")
    assert ok.exit_code == 0, ok.output
    assert "video provider: echo, for https://portal.example: OK." in ok.output
    refused = portal_command("video", "check", VIDEO_PROVIDER="echo", BASE_URL="http://portal.example")
    assert refused.exit_code == 1 and "FAIL: echo rooms need an https PORTAL_BASE_URL." in refused.output


def test_register_webhook_says_plainly_when_the_provider_has_no_webhooks(portal_command, register):
    register(echo_kind())
    for provider in ("echo", "local"):
        result = portal_command("video", "register-webhook", VIDEO_PROVIDER=provider)
        assert result.exit_code == 1
        assert f"the {provider} video provider (PORTAL_VIDEO_PROVIDER) sends no webhooks" in result.output


def test_register_webhook_hands_the_providers_route_to_its_subscribe(portal_command, register):
    subscribed: list[str] = []

    def subscribe(settings: Settings, url: str, echo: Echo) -> bool:
        subscribed.append(url)
        echo(f"subscribed {url}")
        return True

    register(echo_kind(webhooks=ProviderWebhooks(receive=_receive_echo, subscribe=subscribe)))
    result = portal_command("video", "register-webhook", VIDEO_PROVIDER="echo", BASE_URL="https://portal.example/")
    assert result.exit_code == 0, result.output
    assert subscribed == ["https://portal.example/webhooks/echo"]


# --------------------------------------------------------------------------------------------- webhooks
def _receive_echo(raw_body: bytes, headers) -> WebhookAnswer:
    """The echo provider's deliveries: a shared secret in a header, then read, stored once and applied."""
    if headers.get("x-echo-secret") != "s3cret":
        return webhooks.error_answer(401, "signature_invalid", "Wrong secret.")
    receipt = webhooks.receive(
        "echo",
        raw_body,
        webhooks.read_event(raw_body),
        occurred_at=None,  # the echo provider's events say no time: judged by their body's hash alone
        delivery_id=headers.get("x-echo-delivery"),
        webhook_id=None,
        apply=lambda payload: f"echoed {payload['event']}",
    )
    return webhooks.receipt_answer(receipt)


def test_the_webhook_route_answers_404_for_a_provider_without_webhooks(echo_app):
    client = echo_app.test_client()
    for provider in ("echo", "local", "no-such-provider"):
        response = client.post(f"/webhooks/{provider}", json={"event": "room.opened"})
        assert response.status_code == 404, provider
        assert response.json["error"]["code"] == "not_found"


def test_a_third_provider_with_webhooks_receives_them_at_its_own_route(make_app, register, db):
    register(echo_kind(webhooks=ProviderWebhooks(receive=_receive_echo, subscribe=lambda *args: True)))
    app = make_app(VIDEO_PROVIDER="echo")
    with app.app_context():
        client = app.test_client()
        headers = {"x-echo-secret": "s3cret", "x-echo-delivery": "d-1"}
        first = client.post("/webhooks/echo", json={"event": "room.opened"}, headers=headers)
        again = client.post("/webhooks/echo", json={"event": "room.opened"}, headers=headers)
        forged = client.post("/webhooks/echo", json={"event": "room.closed"}, headers={"x-echo-secret": "guess"})
        not_json = client.post("/webhooks/echo", data=b"nope", headers={**headers, "x-echo-delivery": "d-2"})
        deliveries = db.session.scalars(select(WebhookDelivery)).all()
        db.session.remove()
        db.engine.dispose()
    assert first.status_code == 200
    assert first.json == {"received": True, "duplicate": False, "event": "room.opened", "outcome": "echoed room.opened"}
    assert again.status_code == 200 and again.json["duplicate"] is True
    assert forged.status_code == 401 and forged.json["error"]["code"] == "signature_invalid"
    assert not_json.status_code == 400 and not_json.json["error"]["code"] == "invalid_webhook"
    assert [(d.provider, d.outcome) for d in deliveries] == [("echo", "echoed room.opened")]
    assert deliveries[0].delivery_id == f"sha256:{deliveries[0].body_sha256}"  # the body, not the unsigned d-1
