"""One's own profile: name, time zone, language, clock, and which emails one wants. Flushes; the caller commits.

Email preferences are stored in `users.email_preferences` as the kinds turned off ({"reminder_24h": false});
a kind not named is on. Their keys (`preference_keys`) are what portal.notifications.consent maps each message
kind to: one per reminder offset of the settings ("reminder_24h", named like notifications' reminder kinds),
"notices" (a session rescheduled, canceled, handed to a new lead or not started; a late start for its
instructors), "confirmations" (seat reserved, waitlisted, promoted, canceled)
and "recordings" (a recording is ready). Account emails (verification, invitation, password reset) are not
preferences: they are what the person asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from portal.accounts import signals
from portal.accounts.models import User
from portal.accounts.rules import validate_account
from portal.config import Settings
from portal.core.errors import ValidationFailed
from portal.core.i18n import LANGUAGES
from portal.core.timezones import all_timezones
from portal.extensions import db

HOUR_CYCLES = {"24": _l("24-hour clock (18:30)"), "12": _l("12-hour clock (6:30 PM)")}
NOTICES, CONFIRMATIONS, RECORDINGS = "notices", "confirmations", "recordings"


def reminder_preference(offset: timedelta) -> str:
    """24 h -> 'reminder_24h', 10 min -> 'reminder_10m': the same names as notifications' reminder kinds
    (portal.notifications.rules.reminder_kind; tests hold the two together)."""
    seconds = int(offset.total_seconds())
    if seconds % 3600 == 0:
        return f"reminder_{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"reminder_{seconds // 60}m"
    return f"reminder_{seconds}s"


def _lead(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    if minutes and minutes % 1440 == 0:
        return ngettext("%(num)d day", "%(num)d days", minutes // 1440)
    if minutes and minutes % 60 == 0:
        return ngettext("%(num)d hour", "%(num)d hours", minutes // 60)
    return ngettext("%(num)d minute", "%(num)d minutes", minutes)


def preference_keys(settings: Settings) -> list[tuple[str, str]]:
    """(key, label) of every email kind a person may turn off, in the order the profile shows them."""
    reminders = [
        (reminder_preference(offset), _l("Reminder %(lead)s before a session", lead=_lead(offset)))
        for offset in settings.REMINDER_OFFSETS
    ]
    return [
        *reminders,
        (
            NOTICES,
            _l(
                "Notices: a session I hold a seat in is rescheduled, canceled, gets a new instructor or did not "
                "take place (instructors: a late start)"
            ),
        ),
        (CONFIRMATIONS, _l("Seat confirmations: reserved, waitlisted, promoted, canceled")),
        (RECORDINGS, _l("A recording of a session I held a seat in is ready")),
    ]


def form_choices(settings: Settings) -> dict[str, Any]:
    """What the profile form offers: zones, languages, clocks, email kinds."""
    return {
        "timezones": all_timezones(),
        "locales": list(LANGUAGES.items()),
        "hour_cycles": [("", _l("As my language shows it")), *HOUR_CYCLES.items()],
        "email_kinds": preference_keys(settings),
    }


def account_values(user: User, settings: Settings) -> dict[str, Any]:
    """The /account form filled from what is stored."""
    return {
        "name": user.name,
        "timezone": user.timezone,
        "locale": user.locale or "en",
        "hour_cycle": user.hour_cycle or "",
        **{f"email_{key}": "on" for key, _ in preference_keys(settings) if wants(user, key)},
    }


def wants(user: User, key: str) -> bool:
    """Whether `user` keeps emails of preference `key` (on unless turned off)."""
    preferences = user.email_preferences if isinstance(user.email_preferences, dict) else {}
    return preferences.get(key, True) is not False


def set_email_preference(user: User, key: str, on: bool) -> bool:
    """Turn one kind on or off; True if that changed anything."""
    if wants(user, key) == on:
        return False
    preferences = dict(user.email_preferences or {})  # a new dict: the JSON column notices a new value
    if on:
        preferences.pop(key, None)
    else:
        preferences[key] = False
    user.email_preferences = preferences
    db.session.flush()
    return True


def profile_errors(name: str, timezone: str, locale: str, hour_cycle: str) -> dict[str, str]:
    errors = validate_account(None, name, None, timezone, password_required=False)
    errors.pop("email", None)  # the address is changed elsewhere, confirmed from the new address
    if locale and locale not in LANGUAGES:
        errors["locale"] = _l(
            "Choose a language from the list (%(languages)s).", languages=", ".join(LANGUAGES.values())
        )
    if hour_cycle not in ("", *HOUR_CYCLES):
        errors["hour_cycle"] = _l("Choose the 12- or the 24-hour clock.")
    return errors


def update_profile(
    user: User,
    *,
    name: str,
    timezone: str,
    locale: str,
    hour_cycle: str,
    wanted: Mapping[str, bool] | None,
    settings: Settings,
) -> User:
    """Name, zone, language ("" keeps it), clock ("" for the language's own) and the email preferences (`wanted`:
    key -> on, a key missing is off as an unticked box; None leaves them alone), all or nothing. Keys that are not
    preferences are ignored."""
    errors = profile_errors(name, timezone, locale, hour_cycle)
    if errors:
        raise ValidationFailed(errors)
    user.name = name.strip()
    user.timezone = timezone
    user.locale = locale or user.locale
    user.hour_cycle = hour_cycle or None
    if wanted is not None:
        _store_preferences(user, wanted, settings)
    db.session.flush()
    return user


def _store_preferences(user: User, wanted: Mapping[str, bool], settings: Settings) -> None:
    preferences = {key: False for key, _ in preference_keys(settings) if not wanted.get(key, False)}
    # kinds no longer offered (a reminder offset removed from the settings) keep their stored choice
    kept = {k: v for k, v in (user.email_preferences or {}).items() if k not in dict(preference_keys(settings))}
    user.email_preferences = {**kept, **preferences}


# ------------------------------------------------------------------------------------------------ instructor profile
BIO_MAX_CHARS = 2000
PHOTO_MAX_SIDE = 512  # pixels: the photo is scaled down to fit


def bio_errors(bio: str) -> dict[str, str]:
    if len(bio) > BIO_MAX_CHARS:
        return {"bio": f"Keep the bio to {BIO_MAX_CHARS} characters (it has {len(bio)})."}
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in bio.replace("\r\n", "\n")):
        return {"bio": _l("The bio holds characters that cannot be shown; type it as plain text.")}
    return {}


def clean_bio(bio: str) -> str:
    """Line breaks as \\n, no spaces at the ends of lines, no blank lines or spaces at the start or the end."""
    lines = bio.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()


def update_instructor_profile(user: User, *, bio: str, photo: str | None, keep_photo: bool = True) -> str | None:
    """Set the bio, and the photo (`photo`: a stored file name, None: no new one; `keep_photo` False removes the
    current one). Returns the name of the photo file no longer used (the caller deletes it after commit)."""
    errors = bio_errors(bio)
    if errors:
        raise ValidationFailed(errors)
    user.bio = clean_bio(bio)
    replaced = None
    if photo is not None or not keep_photo:
        replaced, user.photo = user.photo, photo
    db.session.flush()
    return replaced


def remove_photo(user: User, *, actor: User) -> str | None:
    """Remove the photo (the person, or an admin: then the audit log says who); the name of the file no longer
    used (None when there was none)."""
    replaced, user.photo = user.photo, None
    db.session.flush()
    if replaced and actor.id != user.id:
        signals.user_changed.send(user, action="user.photo_removed", actor=actor, changes={"photo": [replaced, None]})
    return replaced
