"""Email preferences and the one-click unsubscribe (RFC 8058): every email of a kind one may turn off carries
List-Unsubscribe + List-Unsubscribe-Post; a POST to its link, without a session or CSRF token, turns that kind off,
and the send machinery skips it from then on."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from portal.accounts import profile
from portal.accounts.models import User
from portal.config import current_settings
from portal.extensions import db
from portal.notifications import consent, operations
from portal.notifications.models import Notification
from portal.notifications.rules import reminder_kind


def _user(user_id: int) -> User:
    db.session.expire_all()
    return db.session.get(User, user_id)


# ------------------------------------------------------------------------------------------------ the rules
def test_every_reminder_offset_has_its_own_preference_named_like_its_kind(app):
    settings = dataclasses.replace(
        current_settings(), REMINDER_OFFSETS=(timedelta(days=2), timedelta(hours=3), timedelta(minutes=15))
    )
    keys = [key for key, _ in profile.preference_keys(settings)]
    assert keys == ["reminder_48h", "reminder_3h", "reminder_15m", "notices", "confirmations", "recordings"]
    for offset in settings.REMINDER_OFFSETS:
        assert consent.preference_of(reminder_kind(offset)) == profile.reminder_preference(offset)
    assert dict(profile.preference_keys(settings))["reminder_48h"] == "Reminder 2 days before a session"


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        ("reminder_24h", "reminder_24h"),
        ("rescheduled", "notices"),
        ("canceled", "notices"),
        ("promoted", "confirmations"),
        ("seat_reserved", "confirmations"),
        ("recording_ready", "recordings"),
        ("verify_email", None),
        ("password_reset", None),
        ("invitation", None),
        ("email_change", None),
    ],
)
def test_each_kind_belongs_to_one_preference_and_account_emails_to_none(kind, key):
    assert consent.preference_of(kind) == key


def test_why_not_send(make_user):
    member = make_user("member")
    assert consent.why_not_send(member, "reminder_24h") is None
    member.email_preferences = {"reminder_24h": False, "notices": False}
    assert "reminder_24h" in consent.why_not_send(member, "reminder_24h")
    assert "notices" in consent.why_not_send(member, "canceled")
    assert consent.why_not_send(member, "reminder_1h") is None
    assert consent.why_not_send(member, "password_reset") is None  # account emails are not preferences
    member.email_verified_at = None
    assert consent.why_not_send(member, "verify_email") is None
    for kind in ("reminder_1h", "password_reset", "invitation", "promoted"):
        assert "not verified" in consent.why_not_send(member, kind)
    member.is_active = False
    assert "closed" in consent.why_not_send(member, "verify_email")


def test_a_token_names_one_person_and_one_kind_and_cannot_be_forged_or_cut(app, make_user):
    settings = current_settings()
    member = make_user("member")
    token = consent.unsubscribe_token(member, "notices", settings)
    assert consent.read_unsubscribe_token(token, settings) == (member.id, "notices")
    other_secret = dataclasses.replace(settings, SECRET_KEY="another-secret-that-is-long-enough-000000")
    assert consent.read_unsubscribe_token(token, other_secret) is None
    assert consent.read_unsubscribe_token(token[:-3], settings) is None
    assert consent.read_unsubscribe_token(consent.unsubscribe_token(member, "everything", settings), settings) is None
    assert consent.read_unsubscribe_token("\udcff" + token, settings) is None
    headers = consent.mail_headers(Notification(kind="rescheduled", key="k", user_id=member.id), member, settings)
    assert headers == {
        "List-Unsubscribe": f"<http://portal.test/unsubscribe/{token}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert consent.mail_headers(Notification(kind="invitation", key="k", user_id=member.id), member, settings) == {}


# ------------------------------------------------------------------------------------------------ end to end
@pytest.mark.usefixtures("mail_app")
def test_one_click_unsubscribe_from_a_real_email_then_that_kind_is_skipped(
    app, login_as, make_session, make_user, make_seat, sweep, smtp_sink, clock
):
    session = make_session(start_in=timedelta(days=2))
    member = make_user("member")
    make_seat(session, member)
    operations.plan_reminders(session)
    db.session.commit()

    clock.at(session.start_time - timedelta(hours=24) + timedelta(seconds=20))
    sweep()
    [mail] = [m for m in smtp_sink.messages if m["To"].addresses[0].addr_spec == member.email]
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = mail["List-Unsubscribe"].strip("<>")
    assert url.startswith("http://portal.test/unsubscribe/")

    # what a mail client does (RFC 8058): a POST with this body, no cookie, no CSRF token
    strict = app.test_client()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        answer = strict.post(
            urlsplit(url).path,
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert answer.status_code == 200 and "You are unsubscribed" in answer.get_data(as_text=True)
    assert answer.headers["Cache-Control"].startswith("no-store")
    assert _user(member.id).email_preferences == {"reminder_24h": False}

    # the 24 h reminder is off; the 1 h one still comes (another kind)
    smtp_sink.messages.clear()
    clock.at(session.start_time - timedelta(hours=1) + timedelta(seconds=20))
    sweep()
    assert member.email in [m["To"].addresses[0].addr_spec for m in smtp_sink.messages]

    # every reminder turned off on the profile (boxes left unticked): the 10 min one is skipped with its reason
    signed_in = app.test_client()
    login_as(member, client=signed_in)
    assert (
        signed_in.post(
            "/account", data={"name": member.name, "timezone": "UTC", "email_preferences": "shown"}
        ).status_code
        == 302
    )
    smtp_sink.messages.clear()
    clock.at(session.start_time - timedelta(minutes=10) + timedelta(seconds=20))
    sweep()
    assert member.email not in [m["To"].addresses[0].addr_spec for m in smtp_sink.messages]
    assert session.instructor.email in [m["To"].addresses[0].addr_spec for m in smtp_sink.messages]
    skipped = db.session.scalar(
        select(Notification).where(Notification.user_id == member.id, Notification.kind == "reminder_10m")
    )
    assert (skipped.status, skipped.last_error) == ("skipped", "the recipient turned off reminder_10m emails")


def test_the_link_opened_in_a_browser_asks_first_and_bad_links_are_refused(client, make_user):
    member = make_user("member")
    token = consent.unsubscribe_token(member, "notices", current_settings())
    page = client.get(f"/unsubscribe/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Unsubscribe?" in html and member.email in html
    assert "is rescheduled, canceled, gets a new instructor" in html
    assert _user(member.id).email_preferences == {}
    assert client.post(f"/unsubscribe/{token}").status_code == 200
    assert _user(member.id).email_preferences == {"notices": False}
    assert "You are unsubscribed" in client.get(f"/unsubscribe/{token}").get_data(as_text=True)
    assert client.post(f"/unsubscribe/{token}").status_code == 200  # twice: the same answer
    for bad in (token[:-4], token + "x", "nonsense", "a" * 600, "%00", "%ED%B3%BF"):
        answer = client.post(f"/unsubscribe/{bad}")
        assert answer.status_code == 404, bad
        assert client.get(f"/unsubscribe/{bad}").status_code == 404
    db.session.delete(_user(member.id))
    db.session.commit()
    assert client.post(f"/unsubscribe/{token}").status_code == 404  # the account is gone


# ------------------------------------------------------------------------------------------------ the profile
def test_the_profile_stores_language_clock_zone_and_email_preferences(client, login_as):
    member = login_as("member")
    page = client.get("/account").get_data(as_text=True)
    for name in ("email_reminder_24h", "email_notices", "email_confirmations", "email_recordings", "locale"):
        assert f'name="{name}"' in page
    assert page.count("checked") >= 6  # everything on at first
    saved = client.post(
        "/account",
        data={
            "name": "Kim Lee",
            "timezone": "Asia/Tokyo",
            "locale": "de",
            "hour_cycle": "12",
            "email_preferences": "shown",
            "email_reminder_24h": "on",
            "email_confirmations": "on",
            "email_recordings": "on",
            "email_unknown": "on",
        },
    )
    assert saved.status_code == 302
    user = _user(member.id)
    assert (user.name, user.timezone, user.locale, user.hour_cycle) == ("Kim Lee", "Asia/Tokyo", "de", "12")
    assert user.email_preferences == {"reminder_1h": False, "reminder_10m": False, "notices": False}
    page = client.get("/account").get_data(as_text=True)
    assert 'id="f-email_notices" name="email_notices" type="checkbox" value="on">' in page
    # a form without the preference boxes (an older page, a script) leaves the preferences and the language alone
    assert client.post("/account", data={"name": "Kim Lee", "timezone": "UTC"}).status_code == 302
    user = _user(member.id)
    assert (user.locale, user.hour_cycle, user.timezone) == ("de", None, "UTC")
    assert user.email_preferences == {"reminder_1h": False, "reminder_10m": False, "notices": False}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("locale", "fr", "Choose a language"),
        ("hour_cycle", "13", "12- or the 24-hour"),
        ("timezone", "Mars/Base", "Choose a time zone"),
        ("name", "", "Enter your name"),
        ("name", "x\x00y", "name"),
    ],
)
def test_the_profile_refuses_bad_values_and_stores_nothing(client, login_as, field, value, message):
    member = login_as("member")
    data = {"name": "Kim", "timezone": "UTC", "locale": "en", "hour_cycle": "24", field: value}
    answer = client.post("/account", data=data)
    assert answer.status_code == 422 and message in answer.get_data(as_text=True)
    user = _user(member.id)
    assert (user.locale, user.hour_cycle, user.email_preferences) == (None, None, {})
