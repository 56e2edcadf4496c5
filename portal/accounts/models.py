from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from portal.accounts.roles import Role
from portal.core.clock import now_utc
from portal.core.db import TimestampMixin
from portal.extensions import db


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(20), default=Role.PUBLIC.value)
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    is_active: Mapped[bool] = mapped_column(default=True)
    # API tokens carry the version they were issued under; a token of another version is refused
    token_version: Mapped[int] = mapped_column(default=1, server_default="1")
    # When the address was confirmed from a link mailed to it; None: nothing but that link is mailed to it. People
    # made by admins, the CLI, the demo or an import count as verified when made; only self sign-up stores None.
    email_verified_at: Mapped[datetime | None] = mapped_column(default=now_utc)
    # The profile's language (a locale name such as "en" or "de"); None: the browser's, else the default
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    # "12" or "24": the clock times are shown in; None: the locale's own
    hour_cycle: Mapped[str | None] = mapped_column(sa.String(2))
    # Email kinds this person turned off (preferences or one-click unsubscribe), e.g. {"reminder_24h": false}
    email_preferences: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict, server_default="{}")
    # The instructor profile page (/instructors/<id>): a plain-text bio (line breaks kept, shown escaped) and the
    # file name of a photo under <instance>/uploads/photos (portal.core.uploads; None: no photo)
    bio: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    photo: Mapped[str | None] = mapped_column(sa.String(64))

    def set_password(self, password: str) -> None:
        """A new password also revokes every API token issued before it (a new token version)."""
        self.password_hash = generate_password_hash(password)
        self.token_version = (self.token_version or 0) + 1

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    # Flask-Login's alternative id: what the session and remember-me cookies hold is the id of one sign-in (a row
    # of `login_sessions`), never the user's id, so that sign-in can be ended on the server (portal.accounts.sessions)
    login_session_id = None  # set per instance: str

    def get_id(self) -> str:
        if not self.login_session_id:
            raise RuntimeError("no sign-in to name: start one with portal.accounts.sessions.start_login_session")
        return self.login_session_id

    def __eq__(self, other: object) -> bool:  # UserMixin compares get_id(): the same person, whichever sign-in
        if isinstance(other, User):
            return self.id == other.id
        return NotImplemented

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"


class LoginSession(db.Model):
    """One browser sign-in (with or without remember-me). The cookies carry its secret id; only its SHA-256 is
    stored. Signing out deletes it; a password change or reset deletes every other one of the user."""

    __tablename__ = "login_sessions"

    id_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    last_seen_at: Mapped[datetime] = mapped_column(default=now_utc)
