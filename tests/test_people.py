"""Admins add, invite, deactivate and reactivate people from the web; invitations go through the real SMTP sink."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.accounts.models import User
from portal.audit.models import AuditEntry
from portal.core.clock import now_utc
from portal.extensions import db
from portal.notifications.models import Notification
from portal.seats.models import Attendance, Seat
from portal.training.models import TrainingSession

NEW_PASSWORD = "a brand new passphrase"


def _user(email: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == email))


def _link(message, path: str) -> str:
    text = message.get_body(("plain",)).get_content()
    match = re.search(rf"https?://\S+?({re.escape(path)}[A-Za-z0-9_.\-]+)", text)
    assert match, text
    return match.group(1)


@pytest.mark.usefixtures("mail_app")
def test_an_invited_person_sets_a_password_from_the_emailed_link_and_signs_in(
    app, client, login_as, run_jobs, smtp_sink
):
    admin = login_as("admin")
    added = client.post(
        "/admin/users/new",
        data={
            "name": "Kim Lee",
            "email": "Kim@Example.org",
            "role": "member",
            "timezone": "Europe/Berlin",
            "invite": "on",
        },
    )
    assert added.status_code == 302
    kim = _user("kim@example.org")
    assert (kim.name, kim.role, kim.timezone, kim.is_active) == ("Kim Lee", "member", "Europe/Berlin", True)
    refused = app.test_client().post("/login", data={"email": "kim@example.org", "password": NEW_PASSWORD})
    assert refused.status_code == 401  # nobody can sign in before choosing a password

    run_jobs()
    [message] = [m for m in smtp_sink.messages if m["To"].addresses[0].addr_spec == "kim@example.org"]
    assert "List-Unsubscribe" not in message  # an account email: nothing to unsubscribe from
    link = _link(message, "/invitation/")

    invitee = app.test_client()
    assert invitee.get(link).status_code == 200
    accepted = invitee.post(link, data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert accepted.status_code == 302, accepted.get_data(as_text=True)[-2000:]
    assert invitee.post(link, data={"password": "yet another passphrase"}).status_code == 400  # single use

    fresh = app.test_client()
    signed_in = fresh.post("/login", data={"email": "kim@example.org", "password": NEW_PASSWORD})
    assert signed_in.status_code == 302 and "/login" not in signed_in.location
    assert fresh.get("/account").status_code == 200
    created = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.create"))
    assert (created.entity_id, created.actor_id) == (kim.id, admin.id)


@pytest.mark.usefixtures("mail_app")
def test_an_admin_invites_again_and_a_deactivated_person_is_not_invited(
    client, login_as, make_user, run_jobs, smtp_sink
):
    login_as("admin")
    ann = make_user("member", email="ann@example.org")
    assert client.post(f"/admin/users/{ann.id}/invite").status_code == 302
    run_jobs()
    assert [m["To"].addresses[0].addr_spec for m in smtp_sink.messages] == ["ann@example.org"]
    gone = make_user("member", is_active=False)
    refused = client.post(f"/admin/users/{gone.id}/invite")
    assert refused.status_code == 409 and "reactivate" in refused.get_data(as_text=True)
    assert client.post("/admin/users/999999/invite").status_code == 404
    run_jobs()
    assert len(smtp_sink.messages) == 1


def test_adding_a_person_checks_every_field_and_stores_nothing_on_error(client, login_as, make_user):
    login_as("admin")
    make_user("member", email="taken@example.org")
    page = client.get("/admin/users/new")
    assert page.status_code == 200 and 'name="timezone"' in page.get_data(as_text=True)
    bad = client.post(
        "/admin/users/new", data={"name": "", "email": "TAKEN@example.org", "role": "emperor", "timezone": "Mars/Base"}
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "already exists" in html and "Role must be one of" in html and "Choose a time zone" in html
    assert 'value="TAKEN@example.org"' in html  # what was typed comes back
    assert db.session.scalar(select(User).where(User.email == "taken@example.org")).name != ""
    assert client.post("/admin/users/new", data={"email": "x\x00@example.org", "name": "X"}).status_code == 422
    quiet = client.post(
        "/admin/users/new",
        data={"name": "No Invite", "email": "quiet@example.org", "role": "member", "timezone": "UTC"},
    )
    assert quiet.status_code == 302
    assert _user("quiet@example.org") is not None
    assert db.session.scalar(select(Notification)) is None  # no invitation without the box ticked


def test_deactivation_releases_future_seats_promotes_the_waitlist_and_keeps_history(
    app, client, login_as, make_user, make_session, make_seat
):
    admin = login_as("admin")
    leaving, waiting = make_user("member"), make_user("member")
    upcoming = make_session(start_in=timedelta(days=2), capacity=1)
    also_waiting_in = make_session(start_in=timedelta(days=3), capacity=1)
    past = make_session(start_in=timedelta(days=-2), status="ended")
    make_seat(upcoming, leaving)
    make_seat(upcoming, waiting, "waitlisted")
    make_seat(also_waiting_in, make_user("member"))
    make_seat(also_waiting_in, leaving, "waitlisted")
    make_seat(past, leaving)
    db.session.add(
        Attendance(
            session_id=past.id,
            user_id=leaving.id,
            first_joined_at=now_utc() - timedelta(days=2),
            last_joined_at=now_utc() - timedelta(days=2),
            is_present=False,
            watch_seconds=3000,
        )
    )
    db.session.commit()
    their_browser = app.test_client()
    login_as(leaving, client=their_browser)
    assert their_browser.get("/account").status_code == 200

    deactivated = client.post(f"/admin/users/{leaving.id}/active", data={"is_active": "false"})
    assert deactivated.status_code == 302, deactivated.get_data(as_text=True)[-1500:]

    db.session.expire_all()
    seats = {(s.session_id, s.user_id): s.status for s in db.session.scalars(select(Seat))}
    assert seats[(upcoming.id, leaving.id)] == "canceled"
    assert seats[(upcoming.id, waiting.id)] == "confirmed"  # promoted
    assert seats[(also_waiting_in.id, leaving.id)] == "canceled"
    assert seats[(past.id, leaving.id)] == "confirmed"  # history stays
    assert db.session.get(TrainingSession, upcoming.id).seats_taken == 1
    assert db.session.scalar(select(Attendance).where(Attendance.user_id == leaving.id)).watch_seconds == 3000
    promoted = db.session.scalar(select(Notification).where(Notification.user_id == waiting.id))
    assert promoted is not None and promoted.kind == "promoted"  # told as with any promotion
    assert their_browser.get("/account").status_code == 302  # signed out
    refused = app.test_client().post("/login", data={"email": leaving.email, "password": "correct horse battery"})
    assert refused.status_code == 401
    assert db.session.get(User, leaving.id) is not None
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.entity_id == leaving.id)).all()
    assert "user.active" in actions
    # deactivating twice releases nothing more; reactivating lets them in, without the seats given away
    assert client.post(f"/admin/users/{leaving.id}/active", data={"is_active": "false"}).status_code == 302
    assert client.post(f"/admin/users/{leaving.id}/active", data={"is_active": "true"}).status_code == 302
    back = app.test_client().post("/login", data={"email": leaving.email, "password": "correct horse battery"})
    assert back.status_code == 302
    db.session.expire_all()
    assert (
        db.session.scalar(select(Seat.status).where(Seat.session_id == upcoming.id, Seat.user_id == leaving.id))
        == "canceled"
    )
    assert admin.is_active


def test_an_admin_cannot_deactivate_themselves(client, login_as):
    admin = login_as("admin")
    assert client.post(f"/admin/users/{admin.id}/active", data={"is_active": "false"}).status_code == 409
    assert _user(admin.email).is_active


def test_the_users_page_links_the_people_pages(client, login_as, make_user):
    login_as("admin")
    make_user("member", name="Zed Member")
    html = client.get("/admin/users").get_data(as_text=True)
    for path in ("/admin/users/new", "/admin/users/import", "/invite"):
        assert path in html
