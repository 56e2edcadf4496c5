"""The signed-in user kept in the web process (portal.accounts.sessions): a kept sign-in saves the statements,
and whatever ends or changes a sign-in counts at once in the process that did it and, through the sign-in
generation in Redis, in every other process (here: a second app on the same database and Redis)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from portal.accounts import sessions
from portal.extensions import db
from tests.conftest import PASSWORD
from tests.test_auth_sessions import NEW_PASSWORD, copy_cookies, sign_in, signed_in


@pytest.fixture
def other_process(make_app, monkeypatch):
    """Another web process: its own app (its own kept sign-ins), reading the generation on every request."""
    monkeypatch.setattr(sessions, "GENERATION_READ_EVERY", 0.0)
    return make_app()


@pytest.fixture
def sign_in_reads(app) -> Iterator[list[str]]:
    """The statements that read login_sessions, whichever app runs them."""
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        if "login_sessions" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", note)
    yield seen
    sa.event.remove(sa.engine.Engine, "before_cursor_execute", note)


def cookie_copy(source: FlaskClient, target_app) -> FlaskClient:
    copy = target_app.test_client()
    copy_cookies(source, copy, "session")
    return copy


def test_a_kept_sign_in_is_not_read_again(app, other_process, make_user, sign_in_reads):
    browser = other_process.test_client()  # its requests have a database session each, as a server's do
    sign_in(browser, make_user())
    assert signed_in(browser) and signed_in(browser)  # read (and kept) once the generation is known
    sign_in_reads.clear()
    assert signed_in(browser)
    assert signed_in(browser)
    assert sign_in_reads == []


def test_signing_out_ends_a_kept_copy_at_once_in_this_process(app, client, make_user, sign_in_reads):
    sign_in(client, make_user())
    copy = cookie_copy(client, app)
    assert signed_in(copy) and signed_in(copy)  # kept now
    client.post("/logout")
    assert not signed_in(copy)


def test_signing_out_ends_a_copy_kept_by_another_process(app, client, other_process, make_user, sign_in_reads):
    sign_in(client, make_user())
    elsewhere = cookie_copy(client, other_process)
    assert signed_in(elsewhere) and signed_in(elsewhere)
    sign_in_reads.clear()
    assert signed_in(elsewhere)
    assert sign_in_reads == []  # the other process kept it
    client.post("/logout")
    assert not signed_in(elsewhere)


def test_a_password_change_ends_copies_kept_by_another_process(app, client, other_process, make_user):
    user = make_user()
    sign_in(client, user)
    second_browser = other_process.test_client()
    sign_in(second_browser, user)
    assert signed_in(second_browser) and signed_in(second_browser)
    response = client.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert response.status_code == 302
    assert signed_in(client)
    assert not signed_in(second_browser)


def test_a_deactivation_elsewhere_signs_out_a_kept_sign_in(app, client, other_process, make_user):
    user = make_user()
    sign_in(client, user)
    elsewhere = cookie_copy(client, other_process)
    assert signed_in(elsewhere) and signed_in(elsewhere)
    db.session.execute(sa.update(type(user)).where(type(user).id == user.id).values(is_active=False))
    db.session.commit()
    assert not signed_in(elsewhere)
    assert not signed_in(client)


def test_a_new_role_counts_at_once_for_a_kept_sign_in(app, client, make_user):
    user = make_user("member")
    sign_in(client, user)
    assert client.get("/admin/health").status_code == 403
    assert client.get("/admin/health").status_code == 403  # kept as a member
    user.role = "admin"
    db.session.commit()
    assert client.get("/admin/health").status_code == 200


def test_what_was_kept_is_not_used_after_redis_was_emptied(app, client, make_user, redis_conn, sign_in_reads):
    sign_in(client, make_user())
    assert signed_in(client)
    redis_conn.flushdb()  # a Redis emptied (restarted): the generation is unknown for this request
    app.extensions.pop("portal.sign_in_generation", None)
    sign_in_reads.clear()
    assert signed_in(client)
    assert len(sign_in_reads) == 1


def test_a_change_made_through_a_kept_sign_in_is_saved(app, other_process, make_user, sign_in_reads):
    """The kept user is put into each request's database session as if loaded (accounts.sessions._attached):
    unchanged until a view changes it, and then saved like any loaded row, by the one commit of the request."""
    user = make_user(name="Before")
    browser = other_process.test_client()
    sign_in(browser, user)
    assert signed_in(browser) and signed_in(browser)
    sign_in_reads.clear()
    with other_process.test_request_context():
        kept = sessions.user_of_login_session(_login_session_id(browser))
        assert sign_in_reads == []  # from what the process kept
        state = sa.inspect(kept)
        assert state.persistent and not state.modified and kept.name == "Before"
        db.session.rollback()
    answer = browser.post("/account", data={"name": "After", "timezone": "Europe/Berlin"})
    assert answer.status_code == 302
    db.session.expire_all()
    assert db.session.get(type(user), user.id).name == "After"
    assert db.session.get(type(user), user.id).timezone == "Europe/Berlin"


def _login_session_id(browser: FlaskClient) -> str:
    with browser.session_transaction() as session:
        return session["_user_id"]
