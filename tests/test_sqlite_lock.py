"""Another process holds the SQLite write lock (a backup, a `sqlite3` shell in BEGIN IMMEDIATE): a write waits only
SQLITE_BUSY_TIMEOUT_SECONDS, then answers 503 with Retry-After and stores nothing; reads keep answering; /healthz
says the database is locked (issue 16, item 7). The lock is held by a real second connection to the file."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from flask import Flask, g
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from portal.accounts.auth import issue_token
from portal.core.db import is_lock_timeout
from portal.extensions import db
from portal.seats.models import Seat
from tests.conftest import PASSWORD
from tests.test_panel import post

pytestmark = pytest.mark.usefixtures("sqlite_only")
BUSY = 0.3  # seconds a write waits for the lock in these tests


@pytest.fixture
def sqlite_only(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the write lock of a database file is SQLite's")


@pytest.fixture
def quick(make_app) -> Iterator[Flask]:
    """An app whose writes wait BUSY seconds for the lock; its context is pushed for the test."""
    app = make_app(SQLITE_BUSY_TIMEOUT_SECONDS=BUSY)
    # The test keeps this app's context pushed and Flask reuses it for test-client requests: forget the signed-in
    # user between requests, so each client is who it says it is.
    app.before_request_funcs.setdefault(None, []).insert(0, _forget_request_user)
    with app.app_context():
        yield app
        db.session.remove()


def _forget_request_user() -> None:
    for name in ("_login_user", "csrf_token"):
        g.pop(name, None)


@contextmanager
def write_lock_held_by_another_process() -> Iterator[sqlite3.Connection]:
    """What `sqlite3 portal.db` then `BEGIN IMMEDIATE;` does: a second connection holds the write lock."""
    other = sqlite3.connect(db.engine.url.database, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        other.execute("ROLLBACK")
        other.close()


def bearer(app: Flask, user):
    token, _ = issue_token(user)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def signed_in(app: Flask, user):
    """A browser signed in through the sign-in form (before the lock: signing in writes)."""
    browser = app.test_client()
    assert browser.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    return browser


def seats() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Seat))


def test_every_connection_is_in_wal_mode_and_waits_the_configured_time(quick):
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == round(BUSY * 1000)


def test_the_default_wait_is_a_few_seconds_not_thirty(app):
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000


def test_a_write_while_another_process_holds_the_lock_answers_503_with_retry_after_and_stores_nothing(
    quick, make_session, make_user
):
    session = make_session(start_in=timedelta(days=2), capacity=10)
    api = bearer(quick, make_user("member"))
    with write_lock_held_by_another_process():
        response = api.post(f"/api/training/sessions/{session.id}/seat")
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        error = response.get_json()["error"]
        assert error["code"] == "database_busy" and "try again" in error["message"].lower()
        assert response.headers["X-Frame-Options"] == "DENY"
    assert seats() == 0
    assert api.post(f"/api/training/sessions/{session.id}/seat").status_code == 201  # the lock is gone
    assert seats() == 1


def test_a_form_post_while_the_lock_is_held_gets_the_error_page_with_retry_after(quick, make_session, make_user):
    session = make_session(start_in=timedelta(days=2), capacity=10)
    browser = signed_in(quick, make_user("member"))
    browser.get(f"/sessions/{session.id}")  # the page first (its CSRF token), as a browser would
    with write_lock_held_by_another_process():
        page = post(browser, f"/sessions/{session.id}/seat")
        assert page.status_code == 503 and page.headers["Retry-After"] == "1"
        assert page.mimetype == "text/html"
        assert "database is busy" in page.get_data(as_text=True)
    assert seats() == 0


def test_reads_keep_answering_while_the_lock_is_held(quick, make_session, make_user):
    session = make_session(start_in=timedelta(days=2), capacity=10, is_public=True, members_only=False)
    api = bearer(quick, make_user("member"))
    browser = signed_in(quick, make_user("member"))
    assert browser.get(f"/sessions/{session.id}").status_code == 200
    with write_lock_held_by_another_process():
        assert api.get(f"/api/training/sessions/{session.id}").status_code == 200
        assert api.get("/api/training/sessions").status_code == 200
        assert quick.test_client().get("/sessions").status_code == 200
        assert browser.get(f"/sessions/{session.id}").status_code == 200  # a signed-in page view writes nothing


def test_a_read_does_not_wait_behind_a_write_that_waits_for_the_lock(make_app, make_session, make_user):
    patient = make_app(SQLITE_BUSY_TIMEOUT_SECONDS=3)
    with patient.app_context():
        session = make_session(start_in=timedelta(days=2), capacity=10)
        writer, reader = bearer(patient, make_user("member")), bearer(patient, make_user("member"))
        answers: list[int] = []
        with write_lock_held_by_another_process():
            waiting = threading.Thread(
                target=lambda: answers.append(writer.post(f"/api/training/sessions/{session.id}/seat").status_code)
            )
            waiting.start()
            assert reader.get(f"/api/training/sessions/{session.id}").status_code == 200
            assert waiting.is_alive()  # the write is still waiting for the lock; the read did not wait for it
            waiting.join(timeout=30)
        assert answers == [503]
        db.session.remove()


def test_healthz_says_locked_with_503_while_another_process_holds_the_lock(quick, redis_conn):
    client = quick.test_client()
    assert client.get("/healthz").get_json() == {"database": "ok", "redis": "ok"}
    with write_lock_held_by_another_process():
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.get_json() == {"database": "locked", "redis": "ok"}
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json()["database"] == "ok"


def test_a_lock_met_only_when_the_request_commits_is_a_503_too(quick, make_session, make_user, monkeypatch):
    session = make_session(start_in=timedelta(days=2), capacity=10)
    api = bearer(quick, make_user("member"))
    real_commit = db.session.commit
    locked = sqlite3.OperationalError("database is locked")
    locked.sqlite_errorcode = 5

    def commit_meets_the_lock():
        monkeypatch.setattr(db.session, "commit", real_commit)
        raise OperationalError("COMMIT", {}, locked)

    monkeypatch.setattr(db.session, "commit", commit_meets_the_lock)
    response = api.post(f"/api/training/sessions/{session.id}/seat")
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "database_busy"
    assert response.headers["Retry-After"] == "1" and response.headers["X-Frame-Options"] == "DENY"
    assert seats() == 0


def test_only_lock_errors_count_as_busy():
    assert is_lock_timeout(OperationalError("x", {}, sqlite3.OperationalError("database is locked")))
    assert not is_lock_timeout(OperationalError("x", {}, sqlite3.OperationalError("no such table: nope")))
