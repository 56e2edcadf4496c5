"""Flask's signed-cookie session, with the cookies it verified lately remembered in the process.

Every request of a signed-in browser brings the same session cookie until the session changes, and verifying it
(deriving the key, an HMAC, base64, decompressing and the tagged JSON) is about a tenth of a join-panel poll
(docs/performance.md). A cookie string that verified once verifies again with the same key, so the process keeps
what it decoded, keyed by the whole cookie string, with the time it was signed: the age limit is checked on every
request as Flask checks it, and each request gets a session of its own (a copy). A forged, truncated or expired
cookie is never kept; past MAX_KEPT cookies the process forgets them all and starts again. Nothing else changes:
saving, the cookie's attributes and the key (SECRET_KEY) are Flask's."""

from __future__ import annotations

import copy
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature

from portal.core.clock import now_utc

MAX_KEPT = 10_000


class RememberingSessionInterface(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._kept: dict[str, tuple[float, dict[str, Any]]] = {}

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not app.secret_key:  # Flask's own answer: a null session that refuses writes
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = app.permanent_session_lifetime.total_seconds()
        kept = self._kept.get(value)
        if kept is not None:
            signed_at, data = kept
            if now_utc().timestamp() - signed_at <= max_age:
                return self.session_class(_copied(data))
            self._kept.pop(value, None)
        serializer = self.get_signing_serializer(app)
        try:
            data, signed = serializer.loads(value, max_age=int(max_age), return_timestamp=True)
        except BadSignature:
            return self.session_class()
        if len(self._kept) >= MAX_KEPT:
            self._kept.clear()
        self._kept[value] = (signed.timestamp(), _copied(data))
        return self.session_class(data)


def _copied(data: dict[str, Any]) -> dict[str, Any]:
    """A copy no request can change what is kept through (session values are strings and numbers, at times a
    list or dict: those are copied deeply)."""
    if any(isinstance(v, (dict, list)) for v in data.values()):
        return copy.deepcopy(data)
    return dict(data)
