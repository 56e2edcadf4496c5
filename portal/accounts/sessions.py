"""Browser sign-ins kept on the server (Flask-Login's alternative id): the session and remember-me cookies carry
the secret id of one row of `login_sessions`, so a sign-in can be ended there. Signing out deletes its row (a
copied cookie stops working at once); a password change or reset deletes every other row of the user.

Only the SHA-256 of an id is stored: reading the table gives nobody a cookie.

Loading the signed-in user on every request is cheap (docs/performance.md): one statement reads the sign-in and its
user together, and what it read is kept in the web process (per app, keyed by the id's digest) for up to
CACHE_FOR, valid only while the *sign-in generation* in Redis is the one read before that statement. Every commit
that changes anything a signed-in request depends on (any change to a user; a sign-in ended: deleted) replaces the
generation right after the commit (`_bump`), and the committing process forgets what it kept. So a sign-out, a
password change or reset, a deactivation or a new role counts at once in the process that made it, and in every
other process within GENERATION_READ_EVERY (0.1 s: each process reads the generation at most that often, as one
Redis round trip per request would cost as much as the statement it saves); a request already under way when the
commit lands could always finish as the old sign-in. Without Redis, or while the generation is unknown, nothing is
kept (every request reads the database). The window left: Redis answering reads but refusing the bump right after
the commit (retried once, logged); then another process may accept an ended sign-in for up to CACHE_FOR."""

from __future__ import annotations

import copy
import hashlib
import logging
import secrets
import time
from datetime import timedelta
from typing import Any

from flask import current_app, has_app_context
from redis.exceptions import RedisError
from sqlalchemy import delete, event, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, make_transient_to_detached

from portal.accounts.models import LoginSession, User
from portal.core.clock import now_utc
from portal.core.queue import get_redis
from portal.extensions import db

log = logging.getLogger(__name__)

# A sign-in unused this long is forgotten (as long as a remember-me cookie lives: Flask-Login's 365 days)
FORGOTTEN_AFTER = timedelta(days=365)
# last_seen_at is written at most this often per sign-in (not on every request)
SEEN_EVERY = timedelta(minutes=10)
ID_BYTES = 32  # token_urlsafe(32): 43 characters
MAX_ID_LENGTH = 64

GENERATION_KEY = "portal:sign-in-generation"  # replaced (a new random value) whenever a kept sign-in may be stale
CACHE_FOR = timedelta(seconds=30)  # the longest a kept sign-in is used, even while its generation holds
CACHE_MAX_ENTRIES = 20_000  # past this the process forgets every kept sign-in and starts again
# the generation is read from Redis at most this often per process (a round trip per request would cost as much as
# the statement it saves): another process learns of a sign-out within this, the signing-out one at once
GENERATION_READ_EVERY = 0.1
_CACHE_EXTENSION = "portal.sign_in_cache"
_GENERATION_EXTENSION = "portal.sign_in_generation"  # [the generation last read, when (monotonic)]
_CHANGED = "portal.sign_ins_changed"  # Session.info flag: this transaction changed users or ended sign-ins
_NO_BUMP = "portal_no_sign_in_bump"  # execution option: a statement that can end no kept sign-in
_USER_COLUMNS = [attr.key for attr in User.__mapper__.column_attrs]
_USER_KEY = User.__mapper__.identity_key_from_primary_key


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def _well_formed(session_id: object) -> bool:
    return isinstance(session_id, str) and 0 < len(session_id) <= MAX_ID_LENGTH and session_id.isascii()


def start_login_session(user: User) -> str:
    """A new sign-in of `user`: its row, and its secret id (also set on the user for Flask-Login's get_id).
    Forgets the user's sign-ins unused for a year on the way."""
    now = now_utc()
    db.session.execute(  # a sign-in unused for a year is never kept in a process (kept ones were seen lately)
        delete(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.last_seen_at < now - FORGOTTEN_AFTER)
        .execution_options(**{_NO_BUMP: True})
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
    digest = _digest(session_id)
    now = now_utc()
    cache: dict[str, tuple[str, Any, Any, dict[str, Any]]] = current_app.extensions.setdefault(_CACHE_EXTENSION, {})
    generation = _generation()
    kept = cache.get(digest) if generation is not None else None
    if kept is not None:
        kept_generation, kept_at, last_seen_at, values = kept
        fresh = kept_generation == generation and now - kept_at <= CACHE_FOR and now - last_seen_at <= SEEN_EVERY
        if fresh and _unchanged_in_session(values["id"]):
            user = _attached(values)
            user.login_session_id = session_id
            return user
        if not fresh:
            cache.pop(digest, None)
    found = db.session.execute(
        select(User, LoginSession.last_seen_at)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(LoginSession.id_hash == digest)
    ).first()
    if found is None:
        return None
    user, last_seen_at = found
    if not user.is_active:
        return None
    if now - last_seen_at > SEEN_EVERY:
        row = db.session.get(LoginSession, digest)
        if row is None:
            return None
        row.last_seen_at = last_seen_at = now  # committed with the request's work (core.web.commit_request_work)
    if generation is not None:  # kept for the next requests of this sign-in while the generation holds
        if len(cache) >= CACHE_MAX_ENTRIES:
            cache.clear()
        cache[digest] = (generation, now, last_seen_at, _values(user))
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


# ------------------------------------------------------------------------------------------------ the process cache
def _values(user: User) -> dict[str, Any]:
    return {key: _copied(getattr(user, key)) for key in _USER_COLUMNS}


def _copied(value: Any) -> Any:
    """Mutable values (email_preferences' dict) are copied, so no request changes what is kept."""
    return copy.deepcopy(value) if isinstance(value, (dict, list)) else value


def _unchanged_in_session(user_id: int) -> bool:
    """The request's database session holds no change of this user not yet flushed (a server's request holds no
    user at all when its user is loaded; a test's shared session may)."""
    held = db.session.identity_map.get(_USER_KEY((user_id,)))
    return held is None or not sa_inspect(held).modified


def _attached(values: dict[str, Any]) -> User:
    """A User in the request's database session as if just loaded from `values` (no statement). Built without
    __init__ and merge (about half the cost per request): its attributes set as loaded, then added as a detached
    instance; merged only where the database session already holds that user (a test's shared session).
    tests/test_perf_sign_in_cache.py checks that it is unmodified, persistent and saves a change made to it."""
    if db.session.identity_map.get(_USER_KEY((values["id"],))) is not None:
        user = User(**{key: _copied(value) for key, value in values.items()})
        make_transient_to_detached(user)
        return db.session.merge(user, load=False)
    user = User.__mapper__.class_manager.new_instance()
    # the instance's attribute values, as a load leaves them (SQLAlchemy's instrumentation keeps them in __dict__);
    # make_transient_to_detached then marks every one as committed (loaded, unchanged), as set_committed_value
    # would one by one
    vars(user).update({key: _copied(value) for key, value in values.items()})
    make_transient_to_detached(user)
    db.session.add(user)
    return user


def _generation() -> str | None:
    """The current sign-in generation; None (nothing kept is used) when Redis does not answer."""
    memo = current_app.extensions.setdefault(_GENERATION_EXTENSION, [None, -GENERATION_READ_EVERY])
    generation, read_at = memo
    if time.monotonic() - read_at < GENERATION_READ_EVERY:
        return generation
    generation = _read_generation()
    memo[:] = [generation, time.monotonic()]
    return generation


def _read_generation() -> str | None:
    try:
        redis = get_redis()
        value = redis.get(GENERATION_KEY)
        if value is None:  # a fresh (or emptied) Redis: a new generation (what was kept before matches no new one)
            fresh = secrets.token_hex(8)
            value = fresh if redis.set(GENERATION_KEY, fresh, nx=True) else redis.get(GENERATION_KEY)
            if value is None:
                return None
        return value.decode() if isinstance(value, bytes) else str(value)
    except RedisError:
        return None


def _bump() -> None:
    """After a commit that changed users or ended sign-ins: this process forgets what it kept, and every process
    does on its next request (a new generation)."""
    if not has_app_context():
        return
    for attempt in (1, 2):  # first the new generation, then this process forgets: nothing kept before survives
        try:
            get_redis().set(GENERATION_KEY, secrets.token_hex(8))
            break
        except RedisError as exc:
            if attempt == 2:
                log.warning(
                    "the sign-in generation was not replaced (%s): other processes may keep a sign-in "
                    "ended now for up to %s",
                    exc,
                    CACHE_FOR,
                )
    current_app.extensions.get(_CACHE_EXTENSION, {}).clear()
    current_app.extensions.pop(_GENERATION_EXTENSION, None)  # read it again on the next request


@event.listens_for(Session, "before_flush")
def _note_flushed_changes(session: Session, _context, _instances) -> None:
    if any(isinstance(obj, User) for obj in session.dirty) or any(
        isinstance(obj, (User, LoginSession)) for obj in session.deleted
    ):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _note_statements(state) -> None:
    if not (state.is_update or state.is_delete) or state.execution_options.get(_NO_BUMP):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name == User.__tablename__ or (name == LoginSession.__tablename__ and state.is_delete):
        state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        _bump()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_CHANGED, None)
