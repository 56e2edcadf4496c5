"""The access matrix of the sign-in pages and endpoints (issue 10): every role and anonymous, the status each gets.
The link pages answer anyone (the token is the credential); /account's password and email forms need a sign-in;
the reset API answers anyone alike; PUT /api/me/password needs credentials."""

from __future__ import annotations

import itertools

import pytest
from flask.testing import FlaskClient

from portal.accounts.auth import issue_token
from portal.accounts.models import User
from portal.accounts.sessions import start_login_session
from portal.extensions import db

ROLES = ["anonymous", "public", "member", "instructor", "board_member", "admin"]
LOGIN = 302  # a browser without a session is sent to the sign-in page
_seq = itertools.count(1)

# (method, url, form, expected status for: anonymous, public, member, instructor, board_member, admin)
PAGES = [
    ("GET", "/password-reset", None, (200, 200, 200, 200, 200, 200)),
    ("POST", "/password-reset", {"email": ""}, (422, 422, 422, 422, 422, 422)),
    ("GET", "/password-reset/junk.token", None, (400, 400, 400, 400, 400, 400)),
    ("POST", "/password-reset/junk.token", {"password": "a fine passphrase"}, (400, 400, 400, 400, 400, 400)),
    ("GET", "/invitation/junk.token", None, (400, 400, 400, 400, 400, 400)),
    ("POST", "/invitation/junk.token", {"password": "a fine passphrase"}, (400, 400, 400, 400, 400, 400)),
    ("GET", "/verify-email/junk.token", None, (400, 400, 400, 400, 400, 400)),
    ("POST", "/verify-email/junk.token", {}, (400, 400, 400, 400, 400, 400)),
    ("GET", "/account/email/confirm/junk.token", None, (400, 400, 400, 400, 400, 400)),
    ("POST", "/account/email/confirm/junk.token", {}, (400, 400, 400, 400, 400, 400)),
    ("POST", "/verify-email", {}, (LOGIN, 302, 302, 302, 302, 302)),
    ("POST", "/account/password", {"current_password": "", "new_password": ""}, (LOGIN, 422, 422, 422, 422, 422)),
    ("POST", "/account/email", {"email": "", "current_password": ""}, (LOGIN, 422, 422, 422, 422, 422)),
]

API = [
    ("POST", "/api/auth/password-reset", {"email": "x@example.org"}, (202, 202, 202, 202, 202, 202)),
    ("POST", "/api/auth/password-reset", {}, (422, 422, 422, 422, 422, 422)),
    ("POST", "/api/auth/password-reset/confirm", {"token": "junk", "password": "x"}, (400, 400, 400, 400, 400, 400)),
    ("PUT", "/api/me/password", {}, (401, 422, 422, 422, 422, 422)),
]


def _user(role: str) -> User:
    n = next(_seq)
    user = User(email=f"{role}{n}@matrix.org", name=f"{role} {n}", role=role, password_hash="!unusable")
    db.session.add(user)  # no password hashing: a matrix of many cases
    db.session.commit()
    return user


def _signed_in(client: FlaskClient, role: str) -> None:
    session_id = start_login_session(_user(role))
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = session_id
        session["_fresh"] = True


def _cases(table):
    return [
        pytest.param(method, url, body, role, expected[i], id=f"{method} {url} as {role}")
        for method, url, body, expected in table
        for i, role in enumerate(ROLES)
    ]


@pytest.mark.usefixtures("redis_conn")
@pytest.mark.parametrize(("method", "url", "body", "role", "expected"), _cases(PAGES))
def test_page_access(client, method, url, body, role, expected):
    if role != "anonymous":
        _signed_in(client, role)
    response = client.get(url) if method == "GET" else client.post(url, data=body)
    assert response.status_code == expected, response.get_data(as_text=True)[:500]
    if expected == LOGIN and role == "anonymous":
        assert "/login" in response.headers["Location"]
    if expected == 400:
        assert 'data-code="link_invalid"' in response.get_data(as_text=True)
        assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.usefixtures("redis_conn")
@pytest.mark.parametrize(("method", "url", "body", "role", "expected"), _cases(API))
def test_api_access(app, client, method, url, body, role, expected):
    if role != "anonymous":
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_token(_user(role))[0]}"
    response = client.open(url, method=method, json=body)
    assert response.status_code == expected, response.get_data(as_text=True)[:500]
    assert response.is_json and "no-store" in response.headers["Cache-Control"]
    if expected >= 400:
        assert set(response.json["error"]) >= {"code", "message"}


def test_the_account_forms_need_the_csrf_token(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    _signed_in(client, "member")
    for url in ("/account/password", "/account/email"):
        response = client.post(url, data={"current_password": "x", "new_password": "y", "email": "z@example.org"})
        assert response.status_code == 400 and "csrf" in response.get_data(as_text=True).lower()


def test_the_account_page_carries_the_password_and_email_forms(client):
    _signed_in(client, "member")
    page = client.get("/account").get_data(as_text=True)
    assert 'action="/account/password"' in page and 'action="/account/email"' in page
    assert 'id="pw-current_password"' in page and 'id="em-current_password"' in page  # no clashing ids
