"""Accounts: sign-up (a `public` user), sign-in and out, profile, the admins' users page, API tokens, CSRF."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.accounts.models import User
from portal.accounts.sessions import start_login_session
from portal.extensions import db
from portal.training.models import TrainingSession
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
    assert post(client, "/account", {"name": "New Name", "timezone": "Mars/Base", "locale": "en"}).status_code == 422
    assert post(client, "/account", {"name": "New Name", "timezone": "Europe/Paris", "locale": "en"}).status_code == 302
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
            session_id = start_login_session(user)
            database.session.commit()
            with browser.session_transaction() as session:
                session["_user_id"] = session_id
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


def test_a_junk_bearer_token_does_not_switch_csrf_off_for_a_signed_in_browser(make_app, login_as):
    strict = make_app(WTF_CSRF_ENABLED=True).test_client()
    login_as("instructor", client=strict)
    junk = {"Authorization": "Bearer junk"}
    session = {"title": "Forged", "start_time": "2026-12-20T10:00:00+00:00", "duration_minutes": 60}
    api = strict.post("/api/training/sessions", json=session, headers=junk)
    assert api.status_code == 401 and api.json["error"]["code"] == "bad_token"
    form = {"title": "Forged", "start_date": "2026-12-20", "start_clock": "10:00", "timezone": "UTC"}
    assert strict.post("/sessions/new", data={**form, "duration_minutes": "60"}, headers=junk).status_code == 401
    assert strict.get("/api/me", headers=junk).status_code == 401  # the cookie does not stand in for the token
    assert db.session.scalar(select(TrainingSession).where(TrainingSession.title == "Forged")) is None
    # the same browser without the junk header still needs the CSRF token, and works with it
    assert strict.post("/api/training/sessions", json=session).status_code == 400
    created = strict.post("/api/training/sessions", json=session, headers={"X-CSRFToken": csrf_token(strict)})
    assert created.status_code == 201


def test_a_valid_bearer_token_means_the_cookie_is_not_used(make_app, login_as, make_user):
    from portal.accounts.auth import issue_token

    strict = make_app(WTF_CSRF_ENABLED=True).test_client()
    login_as("instructor", client=strict, name="Cookie Instructor")
    member = make_user("member", name="Token Member")
    bearer = {"Authorization": f"bearer {issue_token(member)[0]}"}  # the scheme in any case (RFC 7235)
    assert strict.get("/api/me", headers=bearer).json["name"] == "Token Member"
    session = {"title": "As whom", "start_time": "2026-12-20T10:00:00+00:00", "duration_minutes": 60}
    refused = strict.post("/api/training/sessions", json=session, headers=bearer)
    assert refused.status_code == 403  # the member's rights, not the instructor's cookie
    assert db.session.scalar(select(TrainingSession).where(TrainingSession.title == "As whom")) is None
    remembered = strict.application.test_client()  # a browser holding only its remember-me cookie
    instructor = make_user("instructor", email="remembered@example.org")
    signed_in = post(remembered, "/login", {"email": instructor.email, "password": PASSWORD, "remember": "on"})
    assert signed_in.status_code == 302 and remembered.get_cookie("remember_token") is not None
    remembered.delete_cookie("session")
    assert remembered.get("/api/me", headers=bearer).json["name"] == "Token Member"
    assert remembered.get("/api/me", headers={"Authorization": "Bearer junk"}).status_code == 401
    assert remembered.get("/api/me").json["email"] == "remembered@example.org"


# ------------------------------------------------------------------------------------------------ production
def test_an_https_portal_sends_hsts_on_every_response(make_app, make_user):
    https = make_app(BASE_URL="https://portal.example.org").test_client()
    for url in ("/", "/login", "/api/me", "/sessions/424242", "/static/css/portal.css"):
        with https.get(url) as response:
            assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000"), url
    assert "Strict-Transport-Security" not in make_app().test_client().get("/").headers  # http: in development


def test_the_token_answer_the_account_page_and_me_are_never_cached(client, make_user, login_as):
    user = make_user(email="api@example.org")
    answer = client.post("/api/auth/token", json={"email": "api@example.org", "password": PASSWORD})
    me = client.get("/api/me", headers={"Authorization": f"Bearer {answer.json['token']}"})
    login_as(user)
    account = client.get("/account")
    invalid_account = post(client, "/account", {"name": "", "timezone": "Mars/Base"})
    for response in (answer, me, account, invalid_account):
        assert response.status_code in (200, 422)
        assert "no-store" in response.headers["Cache-Control"]


def test_the_api_token_carries_a_token_version_and_nothing_of_the_password_hash(make_user):
    import jwt

    from portal.accounts.auth import issue_token

    user = make_user()
    payload = jwt.decode(issue_token(user)[0], options={"verify_signature": False})
    assert payload["ver"] == user.token_version == 1 and "pwd" not in payload
    hash_text = user.password_hash
    for value in payload.values():
        text_value = str(value)
        assert not any(text_value[i : i + 6] in hash_text for i in range(max(len(text_value) - 5, 0)))


def test_a_password_change_bumps_the_token_version_and_refuses_older_tokens(client, login_as):
    from portal.accounts.auth import issue_token

    user = login_as("member")
    old_token, _ = issue_token(user)
    changed = post(client, "/account/password", {"current_password": PASSWORD, "new_password": "another long one"})
    assert changed.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert user.token_version == 2
    fresh = client.post("/api/auth/token", json={"email": user.email, "password": "another long one"}).json["token"]
    api = client.application.test_client()
    assert api.get("/api/me", headers={"Authorization": f"Bearer {old_token}"}).status_code == 401
    assert api.get("/api/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_a_token_of_another_version_is_refused(client, make_user):
    from portal.accounts.auth import issue_token

    user = make_user()
    token, _ = issue_token(user)
    user.token_version += 1  # revoked without a password change
    db.session.commit()
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_the_migration_starts_every_existing_user_at_token_version_one(client, make_user, make_session):
    from alembic import command

    from portal.accounts.auth import issue_token
    from portal.core import migrate

    user = make_user("instructor")
    make_session(instructor=user)  # rows refer to users: the migration must not copy and drop the table
    db.session.remove()
    config = migrate.alembic_config()
    command.downgrade(config, "7dfd3c21ff23")  # the revision before users had a token version
    command.upgrade(config, "head")
    user = db.session.get(User, user.id)
    assert user.token_version == 1
    assert client.get("/api/me", headers={"Authorization": f"Bearer {issue_token(user)[0]}"}).status_code == 200
