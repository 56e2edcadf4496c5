"""Accounts: sign-up (a `public` user), sign-in and out, profile, the admins' users page, API tokens, CSRF."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.accounts.models import User
from portal.extensions import db
from tests.conftest import PASSWORD, csrf_token


def post(client, url, data, **kwargs):
    return client.post(url, data={**data, "csrf_token": csrf_token(client)}, **kwargs)


def text(response) -> str:
    return response.get_data(as_text=True)


# ------------------------------------------------------------------------------------------------ sign-up
def test_sign_up_creates_a_public_user_and_signs_them_in(client):
    response = post(
        client,
        "/signup",
        {"name": "Yuki", "email": " Yuki@Example.org ", "password": "long enough pw", "timezone": "Asia/Tokyo"},
        follow_redirects=True,
    )
    assert "Your account is ready" in text(response) and "Yuki" in text(response)
    user = db.session.scalar(select(User).where(User.email == "yuki@example.org"))
    assert (user.role, user.timezone) == ("public", "Asia/Tokyo") and user.password_hash != "long enough pw"


def test_sign_up_errors_keep_the_values_and_store_nothing(client, make_user):
    make_user(email="taken@example.org")
    response = post(
        client,
        "/signup",
        {"name": "Kim", "email": "taken@example.org", "password": "short", "timezone": "Nowhere/City"},
    )
    assert response.status_code == 422
    page = text(response)
    assert "already exists" in page and "at least 10 characters" in page and "Choose a time zone" in page
    assert 'value="Kim"' in page
    assert db.session.scalar(select(User).where(User.name == "Kim")) is None


# ------------------------------------------------------------------------------------------------ sign-in
def test_sign_in_goes_to_the_page_asked_for(client, make_user):
    make_user(email="ken@example.org")
    response = post(client, "/login", {"email": "KEN@example.org", "password": PASSWORD, "next": "/sessions"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/sessions")


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_sign_in_never_redirects_off_site(client, make_user, target):
    make_user(email="ken@example.org")
    response = post(client, "/login", {"email": "ken@example.org", "password": PASSWORD, "next": target})
    assert response.headers["Location"] == "/"


def test_a_wrong_password_or_inactive_account_is_refused(client, make_user):
    make_user(email="ken@example.org")
    make_user(email="gone@example.org", is_active=False)
    for email, password in (
        ("ken@example.org", "wrong password"),
        ("gone@example.org", PASSWORD),
        ("nobody@example.org", PASSWORD),
    ):
        response = post(client, "/login", {"email": email, "password": password})
        assert response.status_code == 401 and "do not match" in text(response)


def test_sign_out(client, login_as):
    login_as("member", name="Leaving Soon")
    response = post(client, "/logout", {}, follow_redirects=True)
    assert "You are signed out" in text(response) and "Leaving Soon" not in text(response)


def test_profile_changes_time_zone_and_refuses_a_bad_one(client, login_as):
    user = login_as("member")
    assert post(client, "/account", {"name": "New Name", "timezone": "Mars/Base"}).status_code == 422
    assert post(client, "/account", {"name": "New Name", "timezone": "Europe/Paris"}).status_code == 302
    db.session.expire_all()
    assert (db.session.get(User, user.id).name, db.session.get(User, user.id).timezone) == ("New Name", "Europe/Paris")


# ------------------------------------------------------------------------------------------------ admins
def test_admin_changes_a_role_and_it_is_audited(client, login_as, make_user):
    from portal.audit.models import AuditEntry

    login_as("admin")
    member = make_user("member")
    assert post(client, f"/admin/users/{member.id}/role", {"role": "instructor"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, member.id).role == "instructor"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.role"))
    assert entry.changes == {"role": ["member", "instructor"]}


def test_role_changes_are_checked(client, login_as, make_user):
    admin = login_as("admin")
    member = make_user("member")
    assert post(client, f"/admin/users/{member.id}/role", {"role": "emperor"}).status_code == 422
    assert post(client, f"/admin/users/{admin.id}/role", {"role": "member"}).status_code == 409
    assert post(client, "/admin/users/424242/role", {"role": "member"}).status_code == 404


@pytest.mark.parametrize("role", ["public", "member", "instructor", "board_member"])
def test_only_admins_change_roles(client, login_as, make_user, role):
    login_as(role)
    target = make_user("member")
    assert post(client, f"/admin/users/{target.id}/role", {"role": "admin"}).status_code == 403
    db.session.expire_all()
    assert db.session.get(User, target.id).role == "member"


def test_a_deactivated_user_loses_their_session_and_tokens(client, app, login_as, make_user):
    from portal.accounts.auth import issue_token

    login_as("admin")
    target = make_user("member")
    token, _ = issue_token(target)
    other = app.test_client()
    login_as(target, client=other)
    post(client, f"/admin/users/{target.id}/active", {"is_active": "false"})
    assert other.get("/account").status_code == 302
    assert app.test_client().get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


# ------------------------------------------------------------------------------------------------ API tokens
def test_token_for_good_credentials_works_on_the_api(client, make_user):
    make_user("instructor", email="api@example.org")
    response = client.post("/api/auth/token", json={"email": "api@example.org", "password": PASSWORD})
    assert response.status_code == 200 and response.json["expires_at"]
    me = client.get("/api/me", headers={"Authorization": f"Bearer {response.json['token']}"})
    assert me.status_code == 200 and me.json["role"] == "instructor"


def test_token_errors(client, make_user):
    make_user(email="api@example.org")
    assert client.post("/api/auth/token", json={"email": "api@example.org", "password": "nope"}).status_code == 401
    assert client.post("/api/auth/token", data="{", content_type="application/json").status_code == 400
    missing = client.post("/api/auth/token", json={})
    assert missing.status_code == 422 and set(missing.json["error"]["fields"]) == {"email", "password"}


def test_a_password_change_invalidates_older_tokens(client, make_user):
    from portal.accounts.auth import issue_token

    user = make_user()
    token, _ = issue_token(user)
    user.set_password("a different password")
    db.session.commit()
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


# ------------------------------------------------------------------------------------------------ CSRF
def test_a_form_post_without_the_csrf_token_is_refused(make_app, make_user):
    from portal.accounts.auth import issue_token
    from portal.extensions import db as database

    csrf_app = make_app(WTF_CSRF_ENABLED=True)
    try:
        with csrf_app.app_context():
            user = make_user("admin")
            browser = csrf_app.test_client()
            with browser.session_transaction() as session:
                session["_user_id"] = str(user.id)
            target = make_user("member")
            refused = browser.post(f"/admin/users/{target.id}/role", data={"role": "admin"})
            assert refused.status_code == 400 and "expired or was not sent from this site" in text(refused)
            token, _ = issue_token(user)  # a bearer-token API call carries no cookie and needs no CSRF token
            api = csrf_app.test_client().get("/api/me", headers={"Authorization": f"Bearer {token}"})
            assert api.status_code == 200
            database.session.expire_all()
            assert database.session.get(User, target.id).role == "member"
    finally:
        with csrf_app.app_context():
            database.session.remove()
            database.engine.dispose()


def test_the_browser_zone_cookie_sets_times_and_the_signup_default_for_visitors(client, make_session):
    from urllib.parse import quote

    session = make_session(is_public=True, members_only=False)
    client.set_cookie("tz", quote("Asia/Tokyo", safe=""))  # as portal.js stores it: Asia%2FTokyo
    page = client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "JST" in page and "Asia/Tokyo" in page
    assert 'value="Asia/Tokyo" selected' in client.get("/signup").get_data(as_text=True)


def test_a_forged_zone_cookie_falls_back_to_the_default_zone(client, make_session):
    session = make_session(is_public=True, members_only=False)
    client.set_cookie("tz", "Mars%2FOlympus<script>")
    page = client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "UTC" in page and "<script>" not in page.split("<body", 1)[1].split("</footer>")[0]
