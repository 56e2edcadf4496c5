"""Browser sign-ins kept on the server (Flask-Login's alternative id): the session and remember-me cookies carry
the secret id of one row of `login_sessions`, so a sign-in can be ended there. Signing out deletes its row (a
copied cookie stops working at once); a password change or reset deletes every other row of the user.

Only the SHA-256 of an id is stored: reading the table gives nobody a cookie."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete

from portal.accounts.models import LoginSession, User
from portal.core.clock import now_utc
from portal.extensions import db

# A sign-in unused this long is forgotten (as long as a remember-me cookie lives: Flask-Login's 365 days)
FORGOTTEN_AFTER = timedelta(days=365)
# last_seen_at is written at most this often per sign-in (not on every request)
SEEN_EVERY = timedelta(minutes=10)
ID_BYTES = 32  # token_urlsafe(32): 43 characters
MAX_ID_LENGTH = 64


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def _well_formed(session_id: object) -> bool:
    return isinstance(session_id, str) and 0 < len(session_id) <= MAX_ID_LENGTH and session_id.isascii()


def start_login_session(user: User) -> str:
    """A new sign-in of `user`: its row, and its secret id (also set on the user for Flask-Login's get_id).
    Forgets the user's sign-ins unused for a year on the way."""
    now = now_utc()
    db.session.execute(
        delete(LoginSession).where(LoginSession.user_id == user.id, LoginSession.last_seen_at < now - FORGOTTEN_AFTER)
    )
    session_id = secrets.token_urlsafe(ID_BYTES)
    db.session.add(LoginSession(id_hash=_digest(session_id), user_id=user.id, created_at=now, last_seen_at=now))
    db.session.flush()
    user.login_session_id = session_id
    return session_id


def user_of_login_session(session_id: object) -> User | None:
    """The active user signed in as `session_id` (from a cookie), or None for an ended, unknown or malformed one."""
    if not _well_formed(session_id):
        return None
    row = db.session.get(LoginSession, _digest(session_id))
    if row is None:
        return None
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    now = now_utc()
    if now - row.last_seen_at > SEEN_EVERY:
        row.last_seen_at = now  # committed with the request's work (core.web.commit_request_work)
    user.login_session_id = session_id
    return user


def end_login_session(session_id: object) -> None:
    """Sign-out: the sign-in's row goes; its cookies (and any copy of them) name nothing any more."""
    if _well_formed(session_id):
        db.session.execute(delete(LoginSession).where(LoginSession.id_hash == _digest(session_id)))


def end_other_login_sessions(user: User, *, keep: str | None = None) -> int:
    """Every sign-in of `user` but `keep` (the browser that changed the password) ends; how many did."""
    statement = delete(LoginSession).where(LoginSession.user_id == user.id)
    if _well_formed(keep):
        statement = statement.where(LoginSession.id_hash != _digest(keep))
    return db.session.execute(statement).rowcount


def count_login_sessions(user: User) -> int:
    return db.session.query(LoginSession).filter_by(user_id=user.id).count()
