"""The session cookie verified once per process (portal.core.session_cookie) and the commit a request that did
nothing skips (portal.core.web.nothing_to_commit): cheaper, and nothing else changes. A tampered, truncated or
expired cookie signs nobody in, kept or not; what a request changes in its session is its own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import request
from itsdangerous import URLSafeTimedSerializer

from portal.accounts.models import User
from portal.core import web
from portal.core.queue import enqueue_after_commit
from portal.core.session_cookie import MAX_KEPT, RememberingSessionInterface
from portal.extensions import db


@pytest.fixture
def loads(app, monkeypatch) -> list[str]:
    """Every signature check of a session cookie (itsdangerous), by cookie."""
    seen: list[str] = []
    original = URLSafeTimedSerializer.loads

    def counting(self, value, *args, **kwargs):
        seen.append(value)
        return original(self, value, *args, **kwargs)

    monkeypatch.setattr(URLSafeTimedSerializer, "loads", counting)
    return seen


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def test_a_cookie_is_verified_once_then_remembered(client, login_as, loads):
    login_as("member")
    assert client.get("/my/schedule").status_code == 200
    assert client.get("/my/schedule").status_code == 200
    assert client.get("/my/schedule").status_code == 200
    assert loads.count(session_cookie(client)) == 1


def test_the_app_uses_it(app):
    assert isinstance(app.session_interface, RememberingSessionInterface)


@pytest.mark.parametrize("damage", ["tamper", "truncate", "garbage"])
def test_a_damaged_cookie_signs_nobody_in_and_is_not_kept(app, client, login_as, damage):
    login_as("member")
    for _ in range(2):  # the first page adds the CSRF token to the session: its cookie is the one kept
        assert client.get("/my/schedule").status_code == 200
    good = session_cookie(client)
    bad = {
        "tamper": good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        "truncate": good[: len(good) // 2],
        "garbage": "not-a-cookie",
    }[damage]
    other = app.test_client()
    other.set_cookie("session", bad)
    answer = other.get("/my/schedule")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert bad not in app.session_interface._kept
    assert good in app.session_interface._kept


def test_an_expired_cookie_is_refused_though_it_was_kept(app, client, login_as, clock):
    app.permanent_session_lifetime = timedelta(days=1)
    login_as("member")
    for _ in range(2):
        assert client.get("/my/schedule").status_code == 200
    cookie = session_cookie(client)
    assert cookie in app.session_interface._kept
    clock.shift(timedelta(days=1, minutes=1))
    stale = app.test_client()
    stale.set_cookie("session", cookie)
    answer = stale.get("/my/schedule")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert cookie not in app.session_interface._kept


def test_each_request_gets_its_own_copy(app, client, login_as):
    """A request writing its session (the language switcher, a flash) changes nothing another request of the same
    cookie reads."""
    login_as("member")
    for _ in range(2):
        assert client.get("/my/schedule").status_code == 200
    cookie = session_cookie(client)
    twin = app.test_client()
    twin.set_cookie("session", cookie)
    with app.test_request_context(headers={"Cookie": f"session={cookie}"}):
        opened = app.session_interface.open_session(app, request)
        opened["flash_like"] = ["changed"]
    _, kept = app.session_interface._kept[cookie]
    assert "flash_like" not in kept
    assert twin.get("/my/schedule").status_code == 200


def test_the_memory_is_bounded(app, client, login_as, monkeypatch):
    monkeypatch.setattr("portal.core.session_cookie.MAX_KEPT", 2)
    for _ in range(3):
        browser = app.test_client()
        login_as("member", client=browser)
        assert browser.get("/my/schedule").status_code == 200
    assert len(app.session_interface._kept) <= 2
    assert MAX_KEPT == 10_000


# ------------------------------------------------------------------------------------------------ the commit
def test_a_request_that_did_nothing_commits_nothing(app):
    """A request that took no connection has nothing to commit; one that read or wrote has."""
    with app.test_request_context():
        assert web.nothing_to_commit(db.session())
        db.session.execute(db.text("SELECT 1"))
        assert not web.nothing_to_commit(db.session())
        db.session.rollback()
        assert web.nothing_to_commit(db.session())


def test_work_waiting_for_the_commit_is_committed(app):
    with app.test_request_context():
        session = db.session()
        db.session.add(User(email="new@example.org", name="New", role="member", password_hash="!"))
        assert not web.nothing_to_commit(session)
        db.session.rollback()
        assert web.nothing_to_commit(session)
        enqueue_after_commit(session, "portal.core.queue.noop")  # never pushed: the request's session is discarded
        assert not web.nothing_to_commit(session)
