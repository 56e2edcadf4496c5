"""Brute-force limits, shared by every web process through the app's Redis.

A limit counts events (failed sign-ins, sign-ups, reset requests) per subject (an account's address, a client
address) in a moving window: a Redis sorted set per subject holding the moments of its last `limit` events. A
subject with `limit` events inside the window is refused until the oldest of them leaves it; the answer says when
(`Retry-After`). Failed sign-ins count; a refused attempt is not checked at all (the right password included)
and does not count, so the block ends when the window passes, as SPEC.md says.

Why not Flask-Limiter: its limits count requests per route, decided before the view runs. These count only
failures, under two keys at once (the account named in the body, the client address), shared by the form and the
API, and must refuse the right password while blocked: about 40 lines on the Redis the portal already runs, with
the portal's clock (tests move it), read the same by every process.

The views pass the client address, `request.remote_addr`: the socket's peer, or, behind PORTAL_TRUSTED_PROXIES
proxies, the address the nearest trusted one saw (werkzeug's ProxyFix, set up in portal.app); never a header a
client can set.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import lazy_gettext as _l
from redis.exceptions import RedisError

from portal.accounts.rules import normalise_email
from portal.core.clock import now_utc
from portal.core.errors import ServiceUnavailable
from portal.core.queue import get_redis

KEY_PREFIX = "portal:limit:"


@dataclass(frozen=True)
class Limit:
    name: str
    limit: int
    window: timedelta


SIGN_IN_ACCOUNT = Limit("sign-in-account", 10, timedelta(minutes=15))
SIGN_IN_ADDRESS = Limit("sign-in-address", 50, timedelta(minutes=15))
SIGN_UP_ADDRESS = Limit("sign-up-address", 10, timedelta(hours=1))
RESET_ADDRESS = Limit("reset-address", 10, timedelta(minutes=15))  # reset requests from one address
RESET_ACCOUNT = Limit("reset-account", 3, timedelta(hours=1))  # reset emails to one account (silently none more)
VERIFY_ACCOUNT = Limit("verify-account", 3, timedelta(hours=1))  # verification emails asked again by one account


def _key(limit: Limit, subject: str) -> str:
    return KEY_PREFIX + limit.name + ":" + hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def retry_after(limit: Limit, subject: str) -> int | None:
    """Seconds until `subject` may try again under `limit`; None when it may now."""
    now = now_utc().timestamp()
    key = _key(limit, subject)
    pipe = get_redis().pipeline()
    pipe.zremrangebyscore(key, "-inf", now - limit.window.total_seconds())
    pipe.zrange(key, 0, -1, withscores=True)
    _, events = _execute(pipe)
    if len(events) < limit.limit:
        return None
    oldest_counted = events[len(events) - limit.limit][1]
    return max(1, math.ceil(oldest_counted + limit.window.total_seconds() - now))


def record(limit: Limit, subject: str) -> None:
    """One more event of `subject` under `limit` (only its last `limit` events are kept)."""
    now = now_utc().timestamp()
    key = _key(limit, subject)
    pipe = get_redis().pipeline()
    pipe.zadd(key, {f"{now:.6f}:{secrets.token_hex(4)}": now})
    pipe.zremrangebyscore(key, "-inf", now - limit.window.total_seconds())
    pipe.zremrangebyrank(key, 0, -(limit.limit + 1))
    pipe.expire(key, math.ceil(limit.window.total_seconds()) + 60)
    _execute(pipe)


def _execute(pipe) -> list:
    """Without Redis the limits cannot be kept: the attempt is refused (503), never let through unchecked."""
    try:
        return pipe.execute()
    except RedisError as exc:
        raise ServiceUnavailable(_l("Signing in is unavailable for a moment; try again shortly.")) from exc


# ------------------------------------------------------------------------------------------------ sign-in
def sign_in_refused(email: str, address: str | None) -> int | None:
    """Seconds to wait before any sign-in as `email` from `address` is checked; None: check it."""
    waits = [retry_after(SIGN_IN_ACCOUNT, normalise_email(email))]
    if address is not None:
        waits.append(retry_after(SIGN_IN_ADDRESS, address))
    waits = [w for w in waits if w is not None]
    return max(waits) if waits else None


def sign_in_failed(email: str, address: str | None) -> None:
    """A failed sign-in (or a wrong current password) as `email`, from `address` when known."""
    record(SIGN_IN_ACCOUNT, normalise_email(email))
    if address is not None:
        record(SIGN_IN_ADDRESS, address)


def hit_per_address(limit: Limit, address: str | None) -> int | None:
    """For requests limited per client address (sign-up, reset requests): None and counted when allowed, else
    the seconds to wait (not counted)."""
    subject = address or "unknown"
    wait = retry_after(limit, subject)
    if wait is None:
        record(limit, subject)
    return wait


def hit_per_account(limit: Limit, subject: str) -> bool:
    """True (and counted) when `subject` may have one more of these now."""
    if retry_after(limit, subject) is not None:
        return False
    record(limit, subject)
    return True
