"""One-time links end to end through the real SMTP sink: sign-up verification, password reset (web and API),
invitation, email change. Each test reads the link out of the email and uses it; expired, used, forged and
truncated links are refused with their code and change nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer

from portal.accounts import operations, tokens
from portal.accounts.models import User
from portal.extensions import db
from portal.notifications.account_mail import account_emails
from tests.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("mail_app")

NEW_PASSWORD = "a fresh passphrase 42"


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def link_in(message, path: str) -> str:
    """The path (with its token) of the one-time link in the email's text body."""
    match = re.search(rf"http://portal\.test({re.escape(path)}[A-Za-z0-9_\-.]+)", text_of(message))
    assert match, f"no {path} link in:\n{text_of(message)}"
    assert match.group(1) in html_of(message)  # the HTML body carries the same link
    return match.group(1)


def sign_in(client, email: str, password: str = PASSWORD, **extra):
    return client.post("/login", data={"email": email, "password": password, **extra})


def reload(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def page(response) -> str:
    return response.get_data(as_text=True)


# ------------------------------------------------------------------------------------------------ sign-up
def test_sign_up_mails_a_verification_link_that_verifies_once(client, run_jobs, smtp_sink):
    response = client.post(
        "/signup",
        data={"name": "Yuki", "email": "yuki@example.org", "password": NEW_PASSWORD, "timezone": "Asia/Tokyo"},
    )
    assert response.status_code == 302
    user = db.session.scalar(db.select(User).filter_by(email="yuki@example.org"))
    assert user.email_verified_at is None
    assert client.get("/account").status_code == 200  # signed in although not verified yet

    run_jobs()
    [message] = smtp_sink.messages
    assert message["To"] == "Yuki <yuki@example.org>" and message["Subject"] == "Confirm your email address"
    assert "JST" in text_of(message)  # the link's end, in the recipient's zone
    assert "List-Unsubscribe" not in message  # what the person asked for: no unsubscribe
    path = link_in(message, "/verify-email/")

    confirm_page = client.get(path)
    assert confirm_page.status_code == 200 and "yuki@example.org" in page(confirm_page)
    assert confirm_page.headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in confirm_page.headers["Cache-Control"]
    assert reload(user).email_verified_at is None  # opening the link (a mail scanner) changes nothing
    assert client.post(path).status_code == 302
    assert reload(user).email_verified_at is not None

    used = client.post(path)
    assert used.status_code == 400 and 'data-code="link_used"' in page(used)


def test_an_unverified_address_gets_its_verification_link_instead_of_a_reset(client, run_jobs, smtp_sink):
    user = operations.create_user("new@example.org", "New", NEW_PASSWORD, verified=False)
    db.session.commit()
    client.post("/password-reset", data={"email": "new@example.org"})
    run_jobs()
    assert [row.kind for row in account_emails(user.id)] == [tokens.VERIFY_EMAIL]
    [message] = smtp_sink.messages
    link_in(message, "/verify-email/")


def test_a_verification_link_expires_after_48_hours(client, make_user, clock):
    user = make_user()
    user.email_verified_at = None
    db.session.commit()
    token = tokens.make_token(tokens.VERIFY_EMAIL, user)
    clock.shift(timedelta(hours=47))
    assert client.get(f"/verify-email/{token}").status_code == 200
    clock.shift(timedelta(hours=2))
    expired = client.post(f"/verify-email/{token}")
    assert expired.status_code == 400 and 'data-code="link_expired"' in page(expired)
    assert reload(user).email_verified_at is None


# ------------------------------------------------------------------------------------------------ password reset
def test_password_reset_by_email_sets_a_new_password_once(client, make_user, run_jobs, smtp_sink):
    user = make_user(email="ann@example.org")
    assert 'href="/password-reset"' in page(client.get("/login"))  # "Forgot password?"

    known = client.post("/password-reset", data={"email": "ANN@example.org "})
    unknown = client.post("/password-reset", data={"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert page(known).replace("ANN@example.org", "X") == page(unknown).replace("nobody@example.org", "X")
    run_jobs()
    [message] = smtp_sink.messages  # none for the unknown address
    assert smtp_sink.envelopes[0][1] == ["ann@example.org"]
    assert message["Subject"] == "Reset your password"
    path = link_in(message, "/password-reset/")

    assert client.get(path).status_code == 200
    weak = client.post(path, data={"password": "password123"})
    assert weak.status_code == 422 and "common passwords" in page(weak)
    assert client.post(path, data={"password": "short"}).status_code == 422
    assert reload(user).check_password(PASSWORD)  # nothing changed yet

    done = client.post(path, data={"password": NEW_PASSWORD})
    assert done.status_code == 302
    assert client.get("/account").status_code == 200  # signed in with the new password
    assert reload(user).check_password(NEW_PASSWORD)

    again = client.post(path, data={"password": "yet another passphrase"})
    assert again.status_code == 400 and 'data-code="link_used"' in page(again)
    assert client.get(path).status_code == 400
    assert reload(user).check_password(NEW_PASSWORD)


@pytest.mark.parametrize("mangle", ["truncated", "forged", "other_purpose", "junk"])
def test_forged_truncated_or_foreign_reset_links_are_refused_and_change_nothing(client, make_user, app, mangle):
    user = make_user()
    token = tokens.make_token(tokens.PASSWORD_RESET, user)
    bad = {
        "truncated": token[:-6],
        "forged": URLSafeTimedSerializer(
            "another-secret-key-0123456789-abcdef", salt="portal.account-link.password_reset"
        ).dumps([user.id, token.split(".")[0]]),
        "other_purpose": tokens.make_token(tokens.INVITATION, user),
        "junk": "x" * 2000,
    }[mangle]
    for method in (client.get, client.post):
        response = method(f"/password-reset/{bad}", data={"password": NEW_PASSWORD})
        assert response.status_code == 400 and 'data-code="link_invalid"' in page(response)
    api = client.post("/api/auth/password-reset/confirm", json={"token": bad, "password": NEW_PASSWORD})
    assert api.status_code == 400 and api.json["error"]["code"] == "link_invalid"
    assert reload(user).check_password(PASSWORD)


def test_a_reset_link_expires_after_an_hour(client, make_user, clock):
    user = make_user()
    token = tokens.make_token(tokens.PASSWORD_RESET, user)
    clock.shift(timedelta(minutes=61))
    response = client.post(f"/password-reset/{token}", data={"password": NEW_PASSWORD})
    assert response.status_code == 400 and 'data-code="link_expired"' in page(response)
    api = client.post("/api/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
    assert api.status_code == 400 and api.json["error"]["code"] == "link_expired"
    assert reload(user).check_password(PASSWORD)


def test_the_reset_api_answers_alike_and_its_link_revokes_tokens(app, client, make_user, run_jobs, smtp_sink):
    user = make_user(email="bo@example.org")
    old_token = client.post("/api/auth/token", json={"email": user.email, "password": PASSWORD}).json["token"]
    for email in ("bo@example.org", "nobody@example.org", "not an address"):
        response = client.post("/api/auth/password-reset", json={"email": email})
        assert response.status_code == 202 and response.json == {"status": "accepted"}
    assert client.post("/api/auth/password-reset", json={}).status_code == 422
    run_jobs()
    [message] = smtp_sink.messages
    token = link_in(message, "/password-reset/").rsplit("/", 1)[1]

    weak = client.post("/api/auth/password-reset/confirm", json={"token": token, "password": "qwertyuiop"})
    assert weak.status_code == 422 and "password" in weak.json["error"]["fields"]
    assert (
        client.post("/api/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}).status_code
        == 204
    )
    used = client.post("/api/auth/password-reset/confirm", json={"token": token, "password": "third passphrase!"})
    assert used.status_code == 400 and used.json["error"]["code"] == "link_used"

    bearer = app.test_client()
    bearer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {old_token}"
    assert bearer.get("/api/me").status_code == 401  # the token from before the reset is revoked
    assert reload(user).check_password(NEW_PASSWORD)


def test_reset_emails_to_one_account_are_capped_silently(client, make_user, run_jobs, smtp_sink):
    user = make_user()
    for _ in range(5):
        assert client.post("/api/auth/password-reset", json={"email": user.email}).status_code == 202
    run_jobs()
    assert len(smtp_sink.messages) == 3


# ------------------------------------------------------------------------------------------------ invitation
def test_an_invitee_sets_a_password_through_the_link_once(client, make_user, run_jobs, smtp_sink, clock):
    admin = make_user("admin", name="Aiko Admin")
    invitee = operations.create_user("newbie@example.org", "Newbie", None, role="member", timezone="Europe/Berlin")
    operations.send_invitation(invitee, actor=admin)
    db.session.commit()
    assert sign_in(client, "newbie@example.org", "anything at all").status_code == 401  # no usable password
    run_jobs()
    [message] = smtp_sink.messages
    assert "Aiko Admin invited you" in text_of(message) and "CET" in text_of(message)
    path = link_in(message, "/invitation/")

    welcome = client.get(path)
    assert welcome.status_code == 200 and "Welcome, Newbie" in page(welcome)
    assert client.post(path, data={"password": "1234567890"}).status_code == 422
    assert client.post(path, data={"password": NEW_PASSWORD}).status_code == 302
    assert client.get("/account").status_code == 200
    assert reload(invitee).check_password(NEW_PASSWORD) and reload(invitee).email_verified_at is not None
    used = client.get(path)
    assert used.status_code == 400 and 'data-code="link_used"' in page(used)

    stale = tokens.make_token(tokens.INVITATION, reload(invitee))
    clock.shift(timedelta(days=7, minutes=1))
    assert 'data-code="link_expired"' in page(client.get(f"/invitation/{stale}"))


# ------------------------------------------------------------------------------------------------ email change
def test_an_email_change_is_confirmed_from_the_new_address(client, make_user, run_jobs, smtp_sink):
    user = make_user(email="old@example.org")
    assert sign_in(client, user.email).status_code == 302

    wrong = client.post("/account/email", data={"email": "new@example.org", "current_password": "not my password"})
    assert wrong.status_code == 422 and "not your current password" in page(wrong)
    taken = make_user(email="taken@example.org")
    clash = client.post("/account/email", data={"email": taken.email, "current_password": PASSWORD})
    assert clash.status_code == 422 and "Another account" in page(clash)

    asked = client.post("/account/email", data={"email": "New@Example.org", "current_password": PASSWORD})
    assert asked.status_code == 302
    assert reload(user).email == "old@example.org"  # not before the new address confirms
    run_jobs()
    [message] = smtp_sink.messages
    assert smtp_sink.envelopes[0][1] == ["new@example.org"]  # to the NEW address
    path = link_in(message, "/account/email/confirm/")

    assert "new@example.org" in page(client.get(path))
    assert client.post(path).status_code == 302
    assert reload(user).email == "new@example.org"
    used = client.post(path)
    assert used.status_code == 400 and 'data-code="link_used"' in page(used)
    assert sign_in(client.application.test_client(), "new@example.org").status_code == 302
