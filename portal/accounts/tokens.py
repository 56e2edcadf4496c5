"""One-time links mailed to people: verify an address, reset a password, accept an invitation, confirm a new
address.

A link's token is signed (itsdangerous, with the portal's secret and a salt per purpose, so a token of one purpose
is worth nothing for another), time-limited (its lifetime per purpose), and single-use: it carries a fingerprint
of what its use changes (the password hash for a reset or an invitation, the address and whether it is verified
for a verification, the address for an email change). Once used, or once that state changed otherwise (a newer
password, another address), the fingerprint no longer matches and the link is refused as used. Nothing is stored:
the tokens are made when the email is composed.

Each refusal says which it is (`link_invalid` for forged, truncated or mangled ones and for accounts that are
gone or closed, `link_expired`, `link_used`), and changes nothing.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_babel.speaklater import LazyString
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from portal.accounts.models import User
from portal.config import current_settings
from portal.core.errors import BadRequest
from portal.core.i18n import fill
from portal.core.validation import is_id
from portal.extensions import db

VERIFY_EMAIL = "verify_email"
PASSWORD_RESET = "password_reset"
INVITATION = "invitation"
EMAIL_CHANGE = "email_change"
# The account emails: transactional, one per request; the only kind an unverified address gets is VERIFY_EMAIL
ACCOUNT_MAIL_KINDS = frozenset({VERIFY_EMAIL, PASSWORD_RESET, INVITATION, EMAIL_CHANGE})

LIFETIMES = {
    VERIFY_EMAIL: timedelta(hours=48),
    PASSWORD_RESET: timedelta(hours=1),
    INVITATION: timedelta(days=7),
    EMAIL_CHANGE: timedelta(hours=48),
}
# Where each link leads (portal.accounts.views serves them)
PATHS = {
    VERIFY_EMAIL: "/verify-email/",
    PASSWORD_RESET: "/password-reset/",
    INVITATION: "/invitation/",
    EMAIL_CHANGE: "/account/email/confirm/",
}
MAX_TOKEN_LENGTH = 1000


class LinkRefused(BadRequest):
    """A link that cannot be used: forged or truncated (`link_invalid`), too old (`link_expired`), or used
    (`link_used`). A 400 with its code; nothing changes."""


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_settings().SECRET_KEY, salt=f"portal.account-link.{purpose}")


def _fingerprint(purpose: str, user: User, new_email: str | None) -> str:
    """What using the link changes: it no longer matches once the link was used (or the state moved on)."""
    if purpose == VERIFY_EMAIL:
        parts = [user.email, "verified" if user.email_verified_at else "unverified"]
    elif purpose == EMAIL_CHANGE:
        parts = [user.email, new_email or ""]
    else:  # PASSWORD_RESET, INVITATION
        parts = [user.email, user.password_hash]
    text = "\x1f".join([purpose, str(user.id), *parts])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def make_token(purpose: str, user: User, *, new_email: str | None = None) -> str:
    if purpose not in LIFETIMES:
        raise ValueError(f"no one-time link for {purpose!r}")
    payload: list[Any] = [user.id, _fingerprint(purpose, user, new_email)]
    if purpose == EMAIL_CHANGE:
        payload.append(new_email)
    return _serializer(purpose).dumps(payload)


def link_url(purpose: str, token: str, base_url: str) -> str:
    return base_url.rstrip("/") + PATHS[purpose] + token


def read_token(purpose: str, token: object) -> tuple[User, dict[str, Any]]:
    """The user a valid, unexpired, unused link of `purpose` is for, with what it carries ({"new_email": ...});
    LinkRefused otherwise."""
    invalid = LinkRefused(
        "This link is not valid: it may be incomplete (copy the whole link from the email) or changed.",
        code="link_invalid",
    )
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise invalid
    try:
        payload = _serializer(purpose).loads(token, max_age=int(LIFETIMES[purpose].total_seconds()))
    except SignatureExpired as exc:
        raise LinkRefused(_expired_message(purpose), code="link_expired") from exc
    except (BadSignature, ValueError, UnicodeError) as exc:
        raise invalid from exc
    expected_length = 3 if purpose == EMAIL_CHANGE else 2
    if not isinstance(payload, list) or len(payload) != expected_length or not is_id(payload[0]):
        raise invalid
    user = db.session.get(User, payload[0])
    if user is None or not user.is_active:
        raise LinkRefused(_l("This link is for an account that is closed or gone."), code="link_invalid")
    new_email = payload[2] if purpose == EMAIL_CHANGE else None
    if payload[1] != _fingerprint(purpose, user, new_email):
        raise LinkRefused(_used_message(purpose), code="link_used")
    return user, {"new_email": new_email} if new_email else {}


def _expired_message(purpose: str) -> str:
    hours = int(LIFETIMES[purpose].total_seconds() // 3600)
    if hours >= 48 and hours % 24 == 0 and purpose == INVITATION:
        lifetime = LazyString(lambda: ngettext("%(num)d day", "%(num)d days", hours // 24))
    else:
        lifetime = LazyString(lambda: ngettext("%(num)d hour", "%(num)d hours", hours))
    again = {
        VERIFY_EMAIL: _l("Sign in and ask for a new verification link."),
        PASSWORD_RESET: _l("Ask for a new one from “Forgot password?”."),
        INVITATION: _l("Ask an admin to invite you again."),
        EMAIL_CHANGE: _l("Ask for the change again from your settings."),
    }[purpose]
    return fill(_l("This link has expired (it is valid for %(lifetime)s). %(again)s"), lifetime=lifetime, again=again)


def _used_message(purpose: str) -> str:
    return {
        VERIFY_EMAIL: _l("This verification link was already used, or your address changed since it was sent."),
        PASSWORD_RESET: _l(
            "This reset link was already used, or the password changed since it was sent. "
            "Ask for a new one from “Forgot password?” if you need it."
        ),
        INVITATION: _l("This invitation was already accepted. Sign in with the password you chose."),
        EMAIL_CHANGE: _l("This link was already used, or your address changed since it was sent."),
    }[purpose]
