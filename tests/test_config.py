"""Settings: defaults, PORTAL_* environment, validation that names every problem at once, secrets masked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.config import ConfigError, load_settings, parse_duration


def settings(env=None, **overrides):
    return load_settings(overrides, environ={"PORTAL_SECRET_KEY": "k" * 40, "PORTAL_ENV": "test", **(env or {})})


def test_environment_values_are_typed():
    s = settings(
        {
            "PORTAL_JOIN_WINDOW_MINUTES": "15",
            "PORTAL_REMINDER_OFFSETS": "10m,24h,1h,1h",
            "PORTAL_VIDEO_TIMEOUT_SECONDS": "2.5",
        }
    )
    assert s.JOIN_WINDOW_MINUTES == 15 and s.join_window == timedelta(minutes=15)
    expected = (timedelta(hours=24), timedelta(hours=1), timedelta(minutes=10))
    assert expected == s.REMINDER_OFFSETS
    assert s.VIDEO_TIMEOUT_SECONDS == 2.5


def test_defaults_match_the_spec():
    s = settings()
    assert (s.JOIN_WINDOW_MINUTES, s.AUTO_END_GRACE_MINUTES, s.ARCHIVE_AFTER_DAYS) == (10, 30, 7)
    assert s.VIDEO_PROVIDER == "local" and s.database_url.startswith("sqlite:///")


def test_every_problem_is_named_at_once():
    with pytest.raises(ConfigError) as exc:
        settings({"PORTAL_JOIN_WINDOW_MINUTES": "soon", "PORTAL_SMTP_PORT": "x"})
    assert "PORTAL_JOIN_WINDOW_MINUTES" in str(exc.value) and "PORTAL_SMTP_PORT" in str(exc.value)
    # (An unknown PORTAL_VIDEO_PROVIDER is refused when the app starts, by the provider registry: see
    # tests/test_video_providers.py.)
    with pytest.raises(ConfigError) as exc:
        settings({"PORTAL_SMTP_TLS": "maybe", "PORTAL_DEFAULT_TIMEZONE": "Mars/Base", "PORTAL_ARCHIVE_AFTER_DAYS": "0"})
    message = str(exc.value)
    assert "SMTP_TLS" in message and "DEFAULT_TIMEZONE" in message and "ARCHIVE_AFTER_DAYS" in message


def test_cloudflare_needs_its_credentials():
    with pytest.raises(ConfigError) as exc:
        settings({"PORTAL_VIDEO_PROVIDER": "cloudflare", "PORTAL_CLOUDFLARE_ACCOUNT_ID": "acc"})
    assert "PORTAL_CLOUDFLARE_API_TOKEN" in str(exc.value) and "PORTAL_CLOUDFLARE_APP_ID" in str(exc.value)


def test_no_default_secret_outside_development(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({}, environ={"PORTAL_ENV": "production", "PORTAL_INSTANCE_PATH": str(tmp_path)})
    with pytest.raises(ConfigError, match="32"):
        load_settings({}, environ={"PORTAL_ENV": "production", "PORTAL_SECRET_KEY": "short"})
    dev = load_settings({}, environ={"PORTAL_ENV": "development", "PORTAL_INSTANCE_PATH": str(tmp_path)})
    again = load_settings({}, environ={"PORTAL_ENV": "development", "PORTAL_INSTANCE_PATH": str(tmp_path)})
    assert len(dev.SECRET_KEY) >= 32 and dev.SECRET_KEY == again.SECRET_KEY  # kept in the instance folder


def test_unknown_overrides_are_refused():
    with pytest.raises(ConfigError, match="unknown settings: NOPE"):
        settings(NOPE=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", timedelta(hours=24)),
        ("10m", timedelta(minutes=10)),
        ("2d", timedelta(days=2)),
        ("90s", timedelta(seconds=90)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "h", "10", "-5m", "0m", "1w"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_the_request_body_cap_is_a_setting(make_app):
    app = make_app(MAX_REQUEST_BYTES=2048)
    response = app.test_client().post(
        "/api/auth/token", data=b"{" + b" " * 4096 + b"}", content_type="application/json"
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"
    with pytest.raises(ConfigError, match="PORTAL_MAX_REQUEST_BYTES: must be positive"):
        settings({"PORTAL_MAX_REQUEST_BYTES": "0"})


@pytest.mark.parametrize("name", ["Europe", "America", "x" * 300, "../etc/passwd", ""])
def test_a_default_timezone_that_is_no_zone_is_named_not_a_traceback(name):
    with pytest.raises(ConfigError, match="PORTAL_DEFAULT_TIMEZONE"):
        settings({"PORTAL_DEFAULT_TIMEZONE": name})
