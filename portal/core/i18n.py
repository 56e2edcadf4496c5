"""Languages (Flask-Babel): which locale a request speaks, the footer's language switcher, and the locale an email
is composed in (its recipient's, not the request's).

The locale of a request: the signed-in user's `locale` (their profile) -> else the `locale` cookie the footer's
switcher sets -> else the best match of the browser's Accept-Language -> else "en". The catalogs live in
portal/translations (docs/i18n.md: how to extract, translate and compile them).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from flask import Flask, Response, g, has_request_context, redirect, request
from flask_babel import force_locale, get_locale, refresh
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_login import current_user

from portal.config import PROJECT_ROOT
from portal.extensions import babel

# The languages the portal speaks: code -> its own name (what the switcher and the profile offer). English is the
# source language; every other one has a complete catalog in portal/translations/<code>/LC_MESSAGES/messages.po.
LANGUAGES = {"en": "English", "de": "Deutsch"}
DEFAULT_LOCALE = "en"
LOCALE_COOKIE = "locale"
LOCALE_COOKIE_AGE = 365 * 24 * 3600
# Regional variants matched from Accept-Language: they speak their language's catalog and format dates and
# times as their region does (en_US: 12-hour clock, month first).
REGIONAL = ("en_US", "en_GB", "en_CA", "en_AU", "en_IE", "en_NZ", "en_IN", "de_DE", "de_AT", "de_CH")


def language_of(value: object) -> str | None:
    """The supported language of a locale name ("de", "de_AT", "en-US"), or None."""
    if not isinstance(value, str) or not value:
        return None
    code = value.replace("-", "_").split("_", 1)[0].lower()
    return code if code in LANGUAGES else None


def select_locale() -> str:
    """The locale of this request (see the module's docstring); outside a request, the default."""
    if not has_request_context():
        return DEFAULT_LOCALE
    browser = request.accept_languages.best_match([*LANGUAGES, *REGIONAL])
    user_locale = getattr(current_user, "locale", None) if current_user.is_authenticated else None
    chosen = language_of(user_locale) or language_of(request.cookies.get(LOCALE_COOKIE))
    if chosen:
        # the browser's region refines the chosen language (an American "en" reads 7:00 PM)
        return browser if browser and language_of(browser) == chosen else chosen
    return browser or DEFAULT_LOCALE


def fill(message: object, **values: object) -> LazyString:
    """A translatable message with values filled in when it is shown, in the language it is shown in:
    fill(MESSAGES[reason], opens_in="4 min") for a module-level lazy_gettext template."""
    return LazyString(_fill, message, **values)


def _fill(message: object, **values: object) -> str:
    return str(message) % values


# A session's status as people read it (the badge); the stored value stays the English code.
STATUS_LABELS = {
    "scheduled": _l("Scheduled"),
    "live": _l("Live"),
    "ended": _l("Ended"),
    "canceled": _l("Canceled"),
}


def status_label(status: object) -> str:
    return str(STATUS_LABELS.get(str(status), str(status).replace("_", " ").capitalize()))


def in_english(message: object) -> str:
    """A (lazily) translatable message as the JSON API gives it: in English, the API's contract."""
    if isinstance(message, LazyString):
        with force_locale(DEFAULT_LOCALE):
            return str(message)
    return str(message) if message is not None else ""


def current_language() -> str:
    return language_of(str(get_locale() or DEFAULT_LOCALE)) or DEFAULT_LOCALE


def chosen_hour_cycle() -> str | None:
    """'12' or '24' where someone chose it (an email's recipient, else the signed-in viewer's profile), else None."""
    forced = g.get("portal_hour_cycle") if g else None
    if forced is not None:
        return forced or None
    if has_request_context() and current_user.is_authenticated:
        cycle = getattr(current_user, "hour_cycle", None)
        return cycle if cycle in ("12", "24") else None
    return None


@contextmanager
def recipient_locale(locale: str | None, hour_cycle: str | None = None) -> Iterator[None]:
    """Compose something (an email) in its recipient's language and clock, whatever the request speaks."""
    previous = g.get("portal_hour_cycle") if g else None
    g.portal_hour_cycle = hour_cycle if hour_cycle in ("12", "24") else ""
    try:
        with force_locale(language_of(locale) or DEFAULT_LOCALE):
            yield
    finally:
        g.portal_hour_cycle = previous


def formatting_locale() -> Locale:
    """The Babel locale dates are formatted in (the request's or the forced one)."""
    try:
        return Locale.parse(str(get_locale() or DEFAULT_LOCALE))
    except (ValueError, UnknownLocaleError):
        return Locale.parse(DEFAULT_LOCALE)


def safe_next(target: str | None) -> str:
    """A path on this site to return to (never another host: an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def init_i18n(app: Flask) -> None:
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(PROJECT_ROOT / "portal" / "translations"),
    )

    def set_language() -> Response:
        """The footer's switcher (a small POST form with the CSRF token): remembers the language in a cookie and,
        for a signed-in person, in their profile; then back to the page it came from."""
        code = request.form.get("language", "")
        response = redirect(safe_next(request.form.get("next")), code=303)
        if code not in LANGUAGES:
            return response  # an unknown value changes nothing
        response.set_cookie(LOCALE_COOKIE, code, max_age=LOCALE_COOKIE_AGE, samesite="Lax", httponly=True)
        if current_user.is_authenticated and hasattr(current_user, "locale"):
            current_user.locale = code  # committed with the request's work (portal.core.web)
        return response

    app.add_url_rule("/language", "set_language", set_language, methods=["POST"])

    @app.before_request
    def choose_locale_afresh() -> None:
        """Each request chooses its own locale: Flask-Babel keeps the choice on the app context, which a request
        shares with whatever pushed it (a CLI command, a test)."""
        refresh()

    default = app.json.default  # type: ignore[attr-defined]

    def json_default(value):
        """A translatable message (lazy_gettext) in a JSON answer is English: the API's messages are a contract."""
        if isinstance(value, LazyString):
            return in_english(value)
        return default(value)

    app.json.default = json_default  # type: ignore[attr-defined]

    app.jinja_env.filters["status_label"] = status_label
    # a calendar day (no time, no zone) in the current locale: {{ day|local_date("EEEE") }} -> "Dienstag"
    app.jinja_env.filters["local_date"] = lambda day, pattern="medium": format_date(day, pattern, formatting_locale())
    # globals, not a context processor: emails are rendered without a request
    app.jinja_env.globals.update(languages=LANGUAGES, current_language=current_language)
