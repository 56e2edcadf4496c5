"""Whether a person wants, and may be sent, a message of a kind: the one place that says so for every channel.

`why_not_send` is asked by the send-once machinery (portal.notifications.sending) right before each send: a
closed account gets nothing; an unverified address (self sign-up, not confirmed yet) gets nothing but the link
that verifies it; a person who turned a kind off in
their email preferences, or unsubscribed from it, gets none of that kind.

`mail_headers` adds what every email of a kind one may turn off carries: `List-Unsubscribe` (an https link to the
one-click endpoint, portal.notifications.views) and `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC
8058). The link holds a token signed with the SECRET_KEY (itsdangerous, salted for this purpose only) naming the
person and the preference: it works without signing in, and cannot be made for anyone else or another kind.
Account emails (verification, invitation, reset) are what the person asked for and carry no unsubscribe.
"""

from __future__ import annotations

from functools import lru_cache

from itsdangerous import BadData, URLSafeSerializer

from portal.accounts import tokens
from portal.accounts.models import User
from portal.accounts.profile import CONFIRMATIONS, NOTICES, RECORDINGS, preference_keys, wants
from portal.config import Settings, current_settings
from portal.notifications.models import Notification
from portal.notifications.rules import is_reminder, reminder_kind

# The one kind an address that is not verified yet may receive: the link that verifies it
TO_UNVERIFIED = frozenset({tokens.VERIFY_EMAIL})
NOTICE_KINDS = frozenset(
    {"rescheduled", "canceled", "session_canceled", "not_started", "instructor_late"}
    | {"series_canceled", "series_updated"}  # one email for several dates of a weekly series
    | {"lead_changed", "no_show_released"}  # a substitute leads; a no-show's seat went to the waitlist
)
# "Starting now" (a seat taken after the last reminder's moment) stands in for that last reminder: one who turned
# the last reminder off gets neither.
STARTING_NOW = "starting_now"
_SALT = "portal.notifications.unsubscribe"


def preference_of(kind: str) -> str | None:
    """The email preference (portal.accounts.profile) that governs `kind`; None for a kind nobody turns off (the
    account emails: transactional, asked for by the person)."""
    if kind in tokens.ACCOUNT_MAIL_KINDS:
        return None
    if is_reminder(kind):
        return kind
    if kind == STARTING_NOW:
        offsets = current_settings().REMINDER_OFFSETS
        return reminder_kind(min(offsets)) if offsets else NOTICES
    if kind in NOTICE_KINDS:
        return NOTICES
    if kind == "promoted" or kind.startswith("seat_"):  # seat_reserved, seat_waitlisted, seat_canceled
        return CONFIRMATIONS
    if kind.startswith("recording"):
        return RECORDINGS
    return None


def why_not_send(user: User, kind: str) -> str | None:
    """Why `user` must not be sent a message of `kind` now (the row is skipped with this reason), or None."""
    if not user.is_active:
        return "the recipient's account is closed"
    if user.email_verified_at is None and kind not in TO_UNVERIFIED:
        return "the recipient's address is not verified yet"
    key = preference_of(kind)
    if key is not None and not wants(user, key):
        return f"the recipient turned off {key} emails"
    return None


def mail_headers(notification: Notification, user: User, settings: Settings) -> dict[str, str]:
    """Headers every email of this row carries besides the usual ones."""
    key = preference_of(notification.kind)
    if key is None:
        return {}
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(user, key, settings)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def unsubscribe_link(kind: str, user: User, settings: Settings) -> tuple[str, str] | None:
    """(url, label of the preference) for the visible unsubscribe line in the email's bodies; None for a kind that
    cannot be turned off (account emails)."""
    key = preference_of(kind)
    if key is None:
        return None
    label = dict(preference_keys(settings)).get(key, key)
    return unsubscribe_url(user, key, settings), label


# ------------------------------------------------------------------------------------------------ unsubscribe links
def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=_SALT)


def unsubscribe_token(user: User, key: str, settings: Settings) -> str:
    return _signed(settings.SECRET_KEY or "", user.id, key)


@lru_cache(maxsize=4096)
def _signed(secret: str, user_id: int, key: str) -> str:
    """The token is the same every time for one person and preference (no timestamp): each email needs it twice
    (the header and the visible link), so it is signed once."""
    return _serializer(secret).dumps({"u": user_id, "k": key})


def unsubscribe_url(user: User, key: str, settings: Settings) -> str:
    return f"{settings.BASE_URL.rstrip('/')}/unsubscribe/{unsubscribe_token(user, key, settings)}"


def read_unsubscribe_token(token: str, settings: Settings) -> tuple[int, str] | None:
    """(user id, preference key) of a token this portal signed; None for a forged, truncated or foreign one."""
    if not isinstance(token, str) or not token.isascii() or len(token) > 500:
        return None
    try:
        data = _serializer(settings.SECRET_KEY or "").loads(token)
    except BadData:
        return None
    user_id, key = (data.get("u"), data.get("k")) if isinstance(data, dict) else (None, None)
    if not isinstance(user_id, int) or isinstance(user_id, bool) or key not in dict(preference_keys(settings)):
        return None
    return user_id, key
