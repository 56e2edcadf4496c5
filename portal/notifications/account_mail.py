"""Account emails (verification, password reset, invitation, email change) through the same send-once machinery
as reminders: one notification row on the email channel, without a session, sent after the request commits (the
sweep sends any the queue missed). The one-time link is made when the email is composed (portal.notifications
.emails), so no token is ever stored; the row carries only what the email needs besides the user
(`context`: the new address of an email change, who invited).

Each request is its own email: the key is "<kind>:<user>:<nonce>", so asking twice sends twice (the limits in
portal.accounts.throttle keep that sane)."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select

from portal.accounts.models import User
from portal.accounts.tokens import ACCOUNT_MAIL_KINDS
from portal.core.clock import now_utc
from portal.extensions import db
from portal.notifications.email_channel import EmailChannel
from portal.notifications.models import Notification
from portal.notifications.sending import PENDING, enqueue_send

CHANNEL = EmailChannel.name  # account emails are emails, whatever other channels are enabled


def queue_account_email(user: User, kind: str, context: dict[str, Any] | None = None) -> Notification:
    """One row, due now, pushed to the queue once the caller's transaction commits."""
    if kind not in ACCOUNT_MAIL_KINDS:
        raise ValueError(f"{kind!r} is not an account email")
    if user.id is None:
        db.session.flush()
    row = Notification(
        channel=CHANNEL,
        key=f"{kind}:{user.id}:{secrets.token_hex(8)}",
        kind=kind,
        user_id=user.id,
        session_id=None,
        due_at=now_utc(),
        status=PENDING,
        attempts=0,
        context=dict(context or {}),
    )
    db.session.add(row)
    db.session.flush()
    enqueue_send(row, after_commit=True)
    return row


def account_emails(user_id: int, kind: str | None = None) -> list[Notification]:
    """The account email rows of a person (newest last), for pages and tests."""
    statement = select(Notification).where(
        Notification.user_id == user_id, Notification.session_id.is_(None), Notification.channel == CHANNEL
    )
    if kind is not None:
        statement = statement.where(Notification.kind == kind)
    return list(db.session.scalars(statement.order_by(Notification.id)).all())
