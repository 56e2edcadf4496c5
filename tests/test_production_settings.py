"""Production refuses unsafe settings, naming each offending variable at once; development and test do not."""

from __future__ import annotations

import pytest

from portal.app import create_app
from portal.config import ConfigError, load_settings

SAFE = {
    "PORTAL_ENV": "production",
    "PORTAL_SECRET_KEY": "q7Vd-2mXa9LkR4tZp0Yc8NwE3sJhB6uF",  # 32 characters, not one repeated
    "PORTAL_BASE_URL": "https://training.example.org",
}


def production(**changes: str) -> dict[str, str]:
    """A production environment, safe but for `changes` (an empty value removes the variable)."""
    environ = {**SAFE, **changes}
    return {name: value for name, value in environ.items() if value != ""}


def refusal(environ: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as exc:
        load_settings({}, environ=environ)
    return str(exc.value)


def test_safe_production_settings_load():
    settings = load_settings({}, environ=production(FLASK_DEBUG="0"))
    assert settings.is_production and settings.BASE_URL == "https://training.example.org"


def test_production_refuses_an_http_base_url():
    message = refusal(production(PORTAL_BASE_URL="http://training.example.org"))
    assert "PORTAL_BASE_URL" in message and "https://" in message


def test_production_refuses_the_default_base_url():
    assert "PORTAL_BASE_URL" in refusal(production(PORTAL_BASE_URL=""))  # the default is http://127.0.0.1:5000


@pytest.mark.parametrize("secret", ["short", "x" * 31])
def test_production_refuses_a_secret_shorter_than_32_characters(secret):
    message = refusal(production(PORTAL_SECRET_KEY=secret))
    assert "PORTAL_SECRET_KEY" in message and "32" in message


@pytest.mark.parametrize("secret", ["a" * 32, "Z" * 64])
def test_production_refuses_a_secret_of_one_repeated_character(secret):
    message = refusal(production(PORTAL_SECRET_KEY=secret))
    assert "PORTAL_SECRET_KEY" in message and "repeated" in message


@pytest.mark.parametrize("flag", ["1", "true", "yes", "on", "True"])
def test_production_refuses_debug_on(flag):
    message = refusal(production(FLASK_DEBUG=flag))
    assert "FLASK_DEBUG" in message and "production" in message


@pytest.mark.parametrize("flag", ["0", "false", "no", ""])
def test_production_accepts_debug_off(flag):
    assert load_settings({}, environ=production(FLASK_DEBUG=flag)).is_production


def test_production_names_every_unsafe_setting_at_once():
    message = refusal(
        production(PORTAL_BASE_URL="http://training.example.org", PORTAL_SECRET_KEY="a" * 32, FLASK_DEBUG="1")
    )
    assert "PORTAL_BASE_URL" in message and "PORTAL_SECRET_KEY" in message and "FLASK_DEBUG" in message


def test_production_refusals_come_with_the_other_problems():
    message = refusal(production(PORTAL_BASE_URL="http://x.example.org", PORTAL_JOIN_WINDOW_MINUTES="0"))
    assert "PORTAL_BASE_URL" in message and "PORTAL_JOIN_WINDOW_MINUTES" in message


@pytest.mark.parametrize("env", ["development", "test"])
def test_development_and_test_keep_http_a_plain_secret_and_debug(env, tmp_path):
    settings = load_settings(
        {},
        environ={
            "PORTAL_ENV": env,
            "PORTAL_SECRET_KEY": "a" * 32,
            "PORTAL_BASE_URL": "http://127.0.0.1:5000",
            "PORTAL_INSTANCE_PATH": str(tmp_path),
            "FLASK_DEBUG": "1",
        },
    )
    assert env == settings.ENV and settings.BASE_URL.startswith("http://")


def test_the_app_reads_flask_debug_from_its_environment(monkeypatch, base_config):
    """create_app loads its settings from the process environment: FLASK_DEBUG=1 there stops a production app."""
    monkeypatch.setenv("FLASK_DEBUG", "1")
    config = {**base_config, "ENV": "production", "BASE_URL": "https://training.example.org"}
    with pytest.raises(ConfigError, match="FLASK_DEBUG"):
        create_app(config)
