"""Settings: defaults -> PORTAL_* environment -> a test mapping, typed and validated here, read nowhere else.

Every setting is a field of `Settings` with its default and a one-line meaning; README's settings table
lists the same. `load_settings()` collects every problem at once and raises `ConfigError` naming them.
"""

from __future__ import annotations

import dataclasses
import os
import re
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

    # The brand (issue 14): whose portal this is. Checked at start; a bad value stops the app naming the variable.
    BRAND_NAME: str = _setting(
        "Training Portal",
        "the organisation's name, in the header and the page titles (templates/_brand_logo.html, base.html)",
    )
    BRAND_LOGO: str | None = _setting(
        None,
        "the logo shown before the name in the header: an .svg or .png file, a path relative to the instance "
        "folder (e.g. brand/logo.svg), an absolute path, or static/<path> for a file in the portal's static "
        "folder; served by the portal at /brand/logo.<svg|png>; unset: the name alone",
    )
    BRAND_PRIMARY_COLOR: str = _setting(
        "#1f4fbf",
        "primary colour as #rrggbb or #rgb: links, buttons, the current page; it is text on white and white text "
        "on it, so a colour below 4.5:1 against white is darkened (same hue) until it reaches 4.5:1 (WCAG AA), "
        "with a warning in the log at start",
    )
    BRAND_ACCENT_COLOR: str = _setting(
        "#e0a100",
        "accent colour as #rrggbb or #rgb: the header's band and highlights, never text on white; text on it is "
        "black or white, whichever contrasts more",
    )
    UPLOAD_MAX_BYTES: int = _setting(
        2 * 1024 * 1024,
        "largest image upload (instructor photos, event images); a form that carries one may be this much "
        "larger than MAX_REQUEST_BYTES (a larger one is refused on the form with its message)",
    )

    @property
    def database_url(self) -> str:
        return self.DATABASE_URL or f"sqlite:///{Path(self.INSTANCE_PATH) / 'portal.db'}"

    @property
    def is_production(self) -> bool:
        return self.ENV == "production"

    @property
    def join_window(self) -> timedelta:
        return timedelta(minutes=self.JOIN_WINDOW_MINUTES)

    @property
    def brand_colors(self) -> dict[str, str]:
        """The CSS custom properties of the brand (served as /brand.css): `--brand` is the primary colour made
        readable as text on white (see BRAND_PRIMARY_COLOR), `--brand-dark` a darker shade of it for hover,
        `--brand-on` the text on it, `--brand-accent` and `--brand-on-accent` the accent and the text on it."""
        primary = readable_on_white(parse_color(self.BRAND_PRIMARY_COLOR))
        dark = tuple(int(c * 0.78) for c in primary)
        accent = parse_color(self.BRAND_ACCENT_COLOR)
        return {
            "--brand": color_hex(primary),
            "--brand-dark": color_hex(dark),  # type: ignore[arg-type]
            "--brand-on": "#ffffff",  # white on --brand: the same 4.5:1 or more (contrast is symmetric)
            "--brand-accent": color_hex(accent),
            "--brand-on-accent": color_hex(text_on(accent)),
        }

    @property
    def primary_darkened(self) -> bool:
        """Whether BRAND_PRIMARY_COLOR was below 4.5:1 on white and is shown as a darker shade."""
        return self.brand_colors["--brand"] != self.BRAND_PRIMARY_COLOR


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
    "UPLOAD_MAX_BYTES",
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
    problems.extend(_brand_problems(values))
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


# ------------------------------------------------------------------------------------------------ the brand
HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
LOGO_TYPES = {".svg": "image/svg+xml", ".png": "image/png"}
MIN_TEXT_CONTRAST = 4.5  # WCAG 2 AA for normal text


def parse_color(text: str) -> tuple[int, int, int]:
    """'#1f4fbf' or '#14b' -> (r, g, b); ValueError for anything else."""
    text = (text or "").strip()
    if not HEX_COLOR.fullmatch(text):
        raise ValueError(f"{text!r} is not a colour like #1f4fbf or #14b")
    digits = text[1:]
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def color_hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def relative_luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2's relative luminance of an sRGB colour."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    high, low = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


WHITE, BLACK = (255, 255, 255), (0, 0, 0)


def readable_on_white(rgb: tuple[int, int, int], minimum: float = MIN_TEXT_CONTRAST) -> tuple[int, int, int]:
    """The colour itself when it reaches `minimum` against white, else the lightest darker shade of it (each
    channel scaled down alike, so the hue stays) that does. Black always does (21:1), so there is always one."""
    if contrast_ratio(rgb, WHITE) >= minimum:
        return rgb
    for step in range(1, 101):
        factor = 1 - step / 100
        shade = tuple(int(c * factor) for c in rgb)
        if contrast_ratio(shade, WHITE) >= minimum:
            return shade  # type: ignore[return-value]
    return BLACK


def text_on(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white: whichever contrasts more with a background of `rgb`."""
    return WHITE if contrast_ratio(rgb, WHITE) >= contrast_ratio(rgb, BLACK) else BLACK


def logo_path(value: str, instance: Path) -> Path:
    """Where BRAND_LOGO's file is: static/<path> in the portal's static folder, else relative to the instance."""
    if value.startswith("static/"):
        return PROJECT_ROOT / value
    path = Path(value)
    return path if path.is_absolute() else instance / path


def _logo_problem(value: str, instance: Path) -> str | None:
    path = logo_path(value, instance)
    if path.suffix.lower() not in LOGO_TYPES:
        return f"{value!r} must be an .svg or .png file"
    if not path.is_file():
        return f"{value!r}: no such file ({path})"
    with path.open("rb") as handle:
        head = handle.read(4096)
    if path.suffix.lower() == ".png" and not head.startswith(b"\x89PNG\r\n\x1a\n"):
        return f"{value!r} is not a PNG image"
    if path.suffix.lower() == ".svg" and b"<svg" not in head:
        return f"{value!r} is not an SVG image (no <svg element at its start)"
    return None


def _brand_problems(values: dict[str, Any]) -> list[str]:
    """Colours must parse; the logo must be an SVG or PNG file that exists. Values are normalised in place."""
    problems = []
    for name in ("BRAND_PRIMARY_COLOR", "BRAND_ACCENT_COLOR"):
        try:
            values[name] = color_hex(parse_color(values[name]))
        except ValueError as exc:
            problems.append(f"{ENV_PREFIX}{name}: {exc}")
    values["BRAND_NAME"] = (values["BRAND_NAME"] or "").strip()
    if not values["BRAND_NAME"] or len(values["BRAND_NAME"]) > 80 or not values["BRAND_NAME"].isprintable():
        problems.append(f"{ENV_PREFIX}BRAND_NAME: give the organisation's name, 1 to 80 printable characters")
    if values["BRAND_LOGO"]:
        problem = _logo_problem(values["BRAND_LOGO"], Path(values["INSTANCE_PATH"]))
        if problem:
            problems.append(f"{ENV_PREFIX}BRAND_LOGO: {problem}")
    return problems


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
