"""Fixtures for video tests: a fake Cloudflare RealtimeKit server (tests/plugins/realtimekit_fake.py) and an app
that talks to it.

- `fake_rtk`: the fake server (one per test session), emptied before each test.
- `cloudflare_settings(fake)`: the settings of an app whose provider is that fake.
- `cloudflare_app`: make_app(**cloudflare_settings(fake_rtk)), its app context pushed for the test (db.session,
  make_session and friends then work on it).
- `portal_command("video", "check", VIDEO_PROVIDER="local")`: the `portal` command run in this process, on the
  test database, with these PORTAL_* settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask, g

from portal.cli import main
from portal.video import get_provider
from tests.plugins.realtimekit_fake import API_TOKEN, HOST_PRESET, LEARNER_PRESET, FakeRealtimeKit, serve


@pytest.fixture(scope="session")
def _rtk_server() -> Iterator[FakeRealtimeKit]:
    with serve(FakeRealtimeKit()) as fake:
        yield fake


@pytest.fixture
def fake_rtk(_rtk_server) -> FakeRealtimeKit:
    """The fake RealtimeKit server, emptied for this test."""
    _rtk_server.reset()
    return _rtk_server


def _fresh_request_globals() -> None:
    for name in ("_login_user", "csrf_token"):
        g.pop(name, None)


def cloudflare_settings(fake: FakeRealtimeKit, **overrides: Any) -> dict[str, Any]:
    return {
        "VIDEO_PROVIDER": "cloudflare",
        "CLOUDFLARE_ACCOUNT_ID": fake.account_id,
        "CLOUDFLARE_API_TOKEN": API_TOKEN,
        "CLOUDFLARE_APP_ID": fake.app_id,
        "CLOUDFLARE_API_BASE": fake.url,
        "CLOUDFLARE_WEBHOOK_KEY_URL": fake.key_url,
        "CLOUDFLARE_HOST_PRESET": HOST_PRESET,
        "CLOUDFLARE_LEARNER_PRESET": LEARNER_PRESET,
        "VIDEO_TIMEOUT_SECONDS": 1.0,
        "VIDEO_MAX_RETRIES": 2,
        **overrides,
    }


@pytest.fixture
def cloudflare_app(make_app, fake_rtk, db) -> Iterator[Any]:
    """An app whose video provider is the fake RealtimeKit; its context is pushed for the test. Retries back
    off for milliseconds here (the backoff itself is tested on the client)."""
    app: Flask = make_app(**cloudflare_settings(fake_rtk))
    # The test keeps this app's context pushed, and Flask reuses a pushed context for test-client requests, so
    # `g` would carry one request's signed-in user and CSRF token into the next client's request.
    app.before_request_funcs.setdefault(None, []).insert(0, _fresh_request_globals)
    with app.app_context():
        provider = get_provider()
        provider.client.backoff_base = 0.01
        provider.client.sleeps = []
        real_sleep = provider.client.sleep

        def recorded_sleep(seconds: float) -> None:
            provider.client.sleeps.append(seconds)
            real_sleep(min(seconds, 0.05))

        provider.client.sleep = recorded_sleep
        try:
            yield app
        finally:
            provider.client.http.close()
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()  # this app's pool dies with the test (an open connection left to GC warns)


@pytest.fixture
def portal_command(base_config):
    def run(*args: str, **settings: Any) -> Result:
        env = {
            "ENV": "test",
            "SECRET_KEY": base_config["SECRET_KEY"],
            "DATABASE_URL": base_config["DATABASE_URL"],
            "REDIS_URL": base_config["REDIS_URL"],
            "INSTANCE_PATH": base_config["INSTANCE_PATH"],
            **settings,
        }
        return CliRunner().invoke(main, list(args), env={f"PORTAL_{k}": str(v) for k, v in env.items()})

    return run
