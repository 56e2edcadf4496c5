"""Settings: defaults -> PORTAL_* environment -> a test mapping, typed and validated here, read nowhere else.

Every setting is a field of `Settings` with its default and a one-line meaning; README's settings table
lists the same. `load_settings()` collects every problem at once and raises `ConfigError` naming them.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

from flask import current_app

ENV_PREFIX = "PORTAL_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The settings cannot be used; the message names each offending PORTAL_* variable."""


def _setting(default: Any, doc: str, *, secret: bool = False) -> Any:
    return field(default=default, metadata={"doc": doc, "secret": secret})


@dataclass(frozen=True)
class Settings:
    ENV: str = _setting(
        "development",
        "development, production or test; production refuses an http:// BASE_URL, a SECRET_KEY shorter than 32 "
        "characters or of one repeated character, and FLASK_DEBUG on",
    )
    SECRET_KEY: str | None = _setting(
        None,
        "signs sessions, CSRF and API tokens; required outside development "
        "(development generates one into the instance folder); in production 32+ random characters",
        secret=True,
    )
    INSTANCE_PATH: str = _setting(str(PROJECT_ROOT / "instance"), "folder for the SQLite file, outbox and dev Redis")
    DATABASE_URL: str | None = _setting(None, "SQLAlchemy URL; default sqlite:///<instance>/portal.db")
    SQLITE_BUSY_TIMEOUT_SECONDS: float = _setting(
        5.0, "SQLite: how long a write waits for another process's write lock; then 503 with Retry-After"
    )
    REDIS_URL: str | None = _setting(None, "redis:// or unix:// URL; default an embedded Redis in the instance folder")
    BASE_URL: str = _setting(
        "http://127.0.0.1:5000", "public address of the portal, used in emails and .ics files; https:// in production"
    )
    DEFAULT_TIMEZONE: str = _setting("UTC", "time zone for visitors whose zone is not known yet")

    VIDEO_PROVIDER: str = _setting(
        "local", "a registered video provider (portal/video; checked at start); local keeps rooms for development"
    )
    CLOUDFLARE_ACCOUNT_ID: str | None = _setting(None, "Cloudflare account id (cloudflare provider)")
    CLOUDFLARE_API_TOKEN: str | None = _setting(None, "API token with the Realtime permission", secret=True)
    CLOUDFLARE_APP_ID: str | None = _setting(None, "RealtimeKit app id")
    CLOUDFLARE_API_BASE: str = _setting("https://api.cloudflare.com/client/v4", "RealtimeKit API base URL")
    CLOUDFLARE_WEBHOOK_KEY_URL: str = _setting(
        "https://api.realtime.cloudflare.com/.well-known/webhooks.json", "where the webhook public key is published"
    )
    CLOUDFLARE_HOST_PRESET: str = _setting("group_call_host", "RealtimeKit preset for the session's instructor")
    CLOUDFLARE_LEARNER_PRESET: str = _setting("group_call_participant", "RealtimeKit preset for everyone else")
    VIDEO_TIMEOUT_SECONDS: float = _setting(10.0, "timeout of one call to the video provider")
    VIDEO_MAX_RETRIES: int = _setting(3, "retries of a provider call on 429, 5xx or a network error")
    ROOM_WAIT_SECONDS: float = _setting(
        10.0, "how long a join waits for the room another request is creating; then 503 with Retry-After"
    )

    SMTP_HOST: str | None = _setting(None, "SMTP server; unset: mail is written to <instance>/outbox")
    SMTP_PORT: int = _setting(587, "SMTP port")
    SMTP_USER: str | None = _setting(None, "SMTP user name")
    SMTP_PASSWORD: str | None = _setting(None, "SMTP password", secret=True)
    SMTP_TLS: str = _setting("starttls", "starttls, ssl or none")
    SMTP_TIMEOUT_SECONDS: float = _setting(15.0, "timeout of one SMTP exchange")
    MAIL_FROM: str = _setting("Training Portal <portal@localhost>", "sender of every email")

    JOIN_WINDOW_MINUTES: int = _setting(10, "how long before start the Join button opens")
    REMINDER_OFFSETS: tuple[timedelta, ...] = _setting(
        (timedelta(hours=24), timedelta(hours=1), timedelta(minutes=10)), "reminders before start, e.g. 24h,1h,10m"
    )
    AUTO_END_GRACE_MINUTES: int = _setting(30, "a session this long past its end is ended by the worker")
    ARCHIVE_AFTER_DAYS: int = _setting(7, "ended sessions older than this are archived by the daily cleanup")
    RECORDING_RETENTION_DAYS: int = _setting(
        30, "a recording is listed on /recordings this many days after its session ended"
    )
    PROVISION_AHEAD_HOURS: int = _setting(2, "the sweep provisions rooms for sessions starting this soon")
    API_TOKEN_TTL_HOURS: int = _setting(24, "lifetime of a bearer token from POST /api/auth/token")
    MAX_REQUEST_BYTES: int = _setting(1024 * 1024, "largest request body accepted; a larger one is answered 413")
    TRUSTED_PROXIES: int = _setting(
        0,
        "how many reverse proxies stand in front of the portal; the client address (sign-in limits) is the one the "
        "nearest of them saw in X-Forwarded-For; 0: the connection's own address, forwarded headers ignored",
    )
    WORKER_HEARTBEAT_SECONDS: int = _setting(30, "how often worker and cron record that they are alive")

    @property
    def database_url(self) -> str:
        return self.DATABASE_URL or f"sqlite:///{Path(self.INSTANCE_PATH) / 'portal.db'}"

    @property
    def is_production(self) -> bool:
        return self.ENV == "production"

    @property
    def join_window(self) -> timedelta:
        return timedelta(minutes=self.JOIN_WINDOW_MINUTES)


def parse_duration(text: str) -> timedelta:
    """'24h' -> 24 hours, '10m' -> 10 minutes, '90s', '2d'."""
    text = text.strip().lower()
    units = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"{text!r} is not a duration like 24h, 1h or 10m")
    amount = int(text[:-1])
    if amount <= 0:
        raise ValueError(f"{text!r} must be positive")
    return timedelta(**{units[text[-1]]: amount})


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"{text!r} is not true or false")


def _convert(name: str, raw: Any, default: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    if name == "REMINDER_OFFSETS":
        offsets = tuple(parse_duration(part) for part in raw.split(",") if part.strip())
        return tuple(sorted(set(offsets), reverse=True))
    if isinstance(default, bool):
        return _parse_bool(raw)
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw or None if default is None else raw


_ENUMS = {
    "ENV": {"development", "production", "test"},
    "SMTP_TLS": {"starttls", "ssl", "none"},
}
_POSITIVE = {
    "JOIN_WINDOW_MINUTES",
    "AUTO_END_GRACE_MINUTES",
    "ARCHIVE_AFTER_DAYS",
    "RECORDING_RETENTION_DAYS",
    "PROVISION_AHEAD_HOURS",
    "API_TOKEN_TTL_HOURS",
    "MAX_REQUEST_BYTES",
    "SMTP_PORT",
    "VIDEO_TIMEOUT_SECONDS",
    "ROOM_WAIT_SECONDS",
    "SQLITE_BUSY_TIMEOUT_SECONDS",
    "SMTP_TIMEOUT_SECONDS",
    "WORKER_HEARTBEAT_SECONDS",
}
# Each video provider's settings block: what it cannot run without, checked only when it is the one chosen. Which
# names are providers at all is for portal.video's registry to say (init_video stops the app at an unknown one).
_VIDEO_PROVIDER_REQUIRED = {"cloudflare": ("CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_APP_ID")}


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from defaults, then PORTAL_* variables, then `overrides` (tests)."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    values: dict[str, Any] = {}
    problems: list[str] = []
    for f in dataclasses.fields(Settings):
        raw: Any = f.default
        if ENV_PREFIX + f.name in environ:
            raw = environ[ENV_PREFIX + f.name]
        if f.name in overrides:
            raw = overrides.pop(f.name)
        try:
            values[f.name] = _convert(f.name, raw, f.default)
        except ValueError as exc:
            problems.append(f"{ENV_PREFIX}{f.name}: {exc}")
    if overrides:
        problems.append(f"unknown settings: {', '.join(sorted(overrides))}")
    if problems:
        raise ConfigError("; ".join(problems))

    for name, allowed in _ENUMS.items():
        if values[name] not in allowed:
            problems.append(f"{ENV_PREFIX}{name}: {values[name]!r} is not one of {', '.join(sorted(allowed))}")
    for name in _POSITIVE:
        if values[name] <= 0:
            problems.append(f"{ENV_PREFIX}{name}: must be positive")
    if values["TRUSTED_PROXIES"] < 0:
        problems.append(f"{ENV_PREFIX}TRUSTED_PROXIES: must be 0 or more")
    if values["VIDEO_MAX_RETRIES"] < 0:
        problems.append(f"{ENV_PREFIX}VIDEO_MAX_RETRIES: must be 0 or more")
    if not values["REMINDER_OFFSETS"]:
        problems.append(f"{ENV_PREFIX}REMINDER_OFFSETS: name at least one offset, e.g. 24h,1h,10m")
    if values["DEFAULT_TIMEZONE"] not in available_timezones():  # ZoneInfo("Europe") raises IsADirectoryError
        problems.append(f"{ENV_PREFIX}DEFAULT_TIMEZONE: {values['DEFAULT_TIMEZONE']!r} is not a time zone")
    provider = values["VIDEO_PROVIDER"]
    missing = [ENV_PREFIX + name for name in _VIDEO_PROVIDER_REQUIRED.get(provider, ()) if not values[name]]
    if missing:
        problems.append(f"PORTAL_VIDEO_PROVIDER={provider} needs {', '.join(missing)}")
    if not values["SECRET_KEY"]:
        if values["ENV"] == "development":
            values["SECRET_KEY"] = _development_secret(Path(values["INSTANCE_PATH"]))
        else:
            problems.append(f"{ENV_PREFIX}SECRET_KEY: required when {ENV_PREFIX}ENV={values['ENV']}")
    if values["ENV"] == "production":
        problems.extend(_unsafe_in_production(values, environ))
    if problems:
        raise ConfigError("; ".join(problems))
    return Settings(**values)


def _unsafe_in_production(values: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """What production refuses, each naming its variable: cookies are marked Secure only for an https:// BASE_URL;
    a short or one-character secret can be guessed, and with it every session and token forged; debug mode shows
    tracebacks and, with the Werkzeug debugger, runs code typed into the browser."""
    problems = []
    if not values["BASE_URL"].startswith("https://"):
        problems.append(
            f"{ENV_PREFIX}BASE_URL: must be an https:// address in production (cookies are Secure only over https)"
        )
    secret = values["SECRET_KEY"]
    if secret and len(secret) < 32:
        problems.append(f"{ENV_PREFIX}SECRET_KEY: use at least 32 random characters in production")
    elif secret and len(set(secret)) == 1:
        problems.append(f"{ENV_PREFIX}SECRET_KEY: one character repeated is not a secret; use 32 random characters")
    if _debug_on(environ.get("FLASK_DEBUG")):
        problems.append("FLASK_DEBUG: debug mode must be off in production (it shows tracebacks and runs code)")
    return problems


def _debug_on(flag: str | None) -> bool:
    """Flask's own reading of FLASK_DEBUG: set, and not 0, false or no."""
    return bool(flag) and flag.lower() not in {"0", "false", "no"}


def _development_secret(instance: Path) -> str:
    """A random key kept in the instance folder, so dev sign-ins survive a restart. Never a fixed default."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def current_settings() -> Settings:
    """The running app's settings (domain code reads settings through this, never os.environ)."""
    return current_app.extensions["portal.settings"]
