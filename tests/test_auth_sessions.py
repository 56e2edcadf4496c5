"""Sign-ins kept on the server: signing out ends that sign-in (a copied cookie stops working), a password change
or reset ends every other one (remember-me included) and revokes API tokens; the password policy."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from portal.accounts import tokens
from portal.accounts.models import LoginSession, User
from portal.accounts.sessions import count_login_sessions
from portal.extensions import db
from tests.conftest import PASSWORD

NEW_PASSWORD = "a fresh passphrase 42"


def sign_in(client: FlaskClient, user: User, *, remember: bool = False, password: str = PASSWORD):
    data = {"email": user.email, "password": password}
    if remember:
        data["remember"] = "on"
    response = client.post("/login", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def copy_cookies(source: FlaskClient, target: FlaskClient, *names: str) -> None:
    """What someone who copied the browser's cookies has."""
    for name in names:
        cookie = source.get_cookie(name)
        assert cookie is not None, f"no {name} cookie"
        target.set_cookie(name, cookie.value)


def signed_in(client: FlaskClient) -> bool:
    response = client.get("/account")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def bearer(app, token: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def test_the_cookie_names_a_sign_in_not_the_user(app, client, make_user):
    user = make_user()
    sign_in(client, user)
    [row] = db.session.scalars(db.select(LoginSession)).all()
    with client.session_transaction() as session:
        cookie_id = session["_user_id"]
    assert cookie_id != str(user.id) and len(cookie_id) >= 40
    assert row.user_id == user.id and row.id_hash != cookie_id  # only its digest is stored


def test_signing_out_ends_the_sign_in_for_every_copy_of_its_cookies(app, client, make_user):
    user = make_user()
    sign_in(client, user, remember=True)
    copy_session, copy_remember = app.test_client(), app.test_client()
    copy_cookies(client, copy_session, "session")
    copy_cookies(client, copy_remember, "remember_token")
    assert signed_in(copy_session) and signed_in(copy_remember)

    assert client.post("/logout").status_code == 302
    assert not signed_in(client)
    assert not signed_in(copy_session)  # the copied session cookie names an ended sign-in
    assert not signed_in(copy_remember)  # and so does the 365-day remember-me cookie
    assert count_login_sessions(user) == 0


def test_a_password_change_needs_the_current_password_and_ends_every_other_sign_in(app, client, make_user):
    user = make_user()
    sign_in(client, user)
    other_browser, remembered = app.test_client(), app.test_client()
    sign_in(other_browser, user)
    sign_in(remembered, user, remember=True)
    remembered.delete_cookie("session")  # only the remember-me cookie is left: it signs in again
    assert signed_in(remembered)
    old_token = client.post("/api/auth/token", json={"email": user.email, "password": PASSWORD}).json["token"]

    wrong = client.post("/account/password", data={"current_password": "not it at all", "new_password": NEW_PASSWORD})
    assert wrong.status_code == 422 and "not your current password" in wrong.get_data(as_text=True)
    weak = client.post("/account/password", data={"current_password": PASSWORD, "new_password": "iloveyou123"})
    assert weak.status_code == 422 and "common passwords" in weak.get_data(as_text=True)
    assert signed_in(other_browser) and bearer(app, old_token).get("/api/me").status_code == 200

    done = client.post("/account/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert done.status_code == 302
    assert signed_in(client)  # the browser that changed it stays signed in
    assert not signed_in(other_browser)
    assert not signed_in(remembered)
    assert bearer(app, old_token).get("/api/me").status_code == 401
    assert count_login_sessions(user) == 1


def test_the_password_api_needs_the_current_password_and_revokes_sessions_and_tokens(app, client, make_user):
    user = make_user()
    sign_in(client, user, remember=True)
    token = client.post("/api/auth/token", json={"email": user.email, "password": PASSWORD}).json["token"]
    api = bearer(app, token)

    wrong = api.put("/api/me/password", json={"current_password": "not it at all", "new_password": NEW_PASSWORD})
    assert wrong.status_code == 422 and "current_password" in wrong.json["error"]["fields"]
    short = api.put("/api/me/password", json={"current_password": PASSWORD, "new_password": "short"})
    assert short.status_code == 422 and "new_password" in short.json["error"]["fields"]
    assert api.put("/api/me/password", json={}).status_code == 422
    assert app.test_client().put("/api/me/password", json={}).status_code == 401

    assert (
        api.put("/api/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}).status_code
        == 204
    )
    assert api.get("/api/me").status_code == 401  # the caller's token too: it asks for a new one
    assert not signed_in(client)
    fresh = client.post("/api/auth/token", json={"email": user.email, "password": NEW_PASSWORD})
    assert fresh.status_code == 200


def test_a_reset_ends_every_sign_in_of_the_user(app, client, make_user):
    user = make_user()
    sign_in(client, user, remember=True)
    token = tokens.make_token(tokens.PASSWORD_RESET, user)
    elsewhere = app.test_client()
    assert elsewhere.post(f"/password-reset/{token}", data={"password": NEW_PASSWORD}).status_code == 302
    assert signed_in(elsewhere)
    assert not signed_in(client)
    assert count_login_sessions(user) == 1


def test_a_deactivated_person_is_signed_out_at_once(app, client, make_user):
    user = make_user()
    sign_in(client, user)
    user.is_active = False
    db.session.commit()
    assert not signed_in(client)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "at least 10 characters"),
        ("password123", "common passwords"),
        ("QWERTYUIOP", "common passwords"),  # in any case
        ("yuki@example.org", "email address"),
    ],
)
def test_the_password_policy_at_sign_up(client, password, message):
    response = client.post(
        "/signup", data={"name": "Yuki", "email": "yuki@example.org", "password": password, "timezone": "UTC"}
    )
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert db.session.scalar(db.select(User).filter_by(email="yuki@example.org")) is None


def test_a_cookie_naming_a_user_id_signs_nobody_in(client, make_user):
    """The cookies of before sign-ins were kept on the server held the user's id: they name no sign-in now."""
    user = make_user()
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
    assert not signed_in(client)
    client.set_cookie("remember_token", f"{user.id}|forged")
    assert not signed_in(client)
