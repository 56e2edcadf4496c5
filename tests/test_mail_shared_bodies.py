"""A burst's shared bodies (portal.notifications.emails.SHARED_BODIES): a reminder rendered once per session,
language, zone and clock and filled in per reader says exactly what rendering it for that reader says, in every
language and clock, with names that need escaping; each reader gets their own name and unsubscribe link."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.config import current_settings
from portal.extensions import db
from portal.notifications import emails
from portal.notifications.models import Notification

NAMES = ['Zoë <b>Kim</b> & "Co"', "O'Brien", "山田 太郎", ""]


@pytest.fixture
def seminar(make_session, make_user):
    instructor = make_user("instructor", name="Sensei <Tanaka>")
    return make_session(instructor=instructor, start_in=timedelta(hours=2), title="Kata & <Kumite>")


def reminder(session, user, kind: str = "reminder_1h") -> Notification:
    row = Notification(
        channel="email",
        key=f"shared-{kind}-{user.id}",
        kind=kind,
        user_id=user.id,
        session_id=session.id,
        due_at=session.start_time - timedelta(hours=1),
    )
    db.session.add(row)
    db.session.flush()
    return row


def composed_both_ways(monkeypatch, row, user, session):
    shared = emails.compose(row, user, session, current_settings())
    monkeypatch.setattr(emails, "SHARED_BODIES", frozenset())
    direct = emails.compose(row, user, session, current_settings())
    monkeypatch.setattr(emails, "SHARED_BODIES", frozenset({"reminder"}))
    return shared, direct


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("locale", "clock", "zone"), [("en", "", "UTC"), ("de", "24", "Europe/Berlin"), ("en", "12", "America/New_York")]
)
def test_a_shared_body_says_what_the_reader_s_own_rendering_says(
    app, monkeypatch, seminar, make_user, name, locale, clock, zone
):
    for _ in range(2):  # the second reader of the same kind finds the bodies kept
        user = make_user(name=name, timezone=zone)
        user.locale, user.hour_cycle = locale, clock
        db.session.commit()
        row = reminder(seminar, user)
        shared, direct = composed_both_ways(monkeypatch, row, user, seminar)
        assert (shared.subject, shared.text, shared.html) == (direct.subject, direct.text, direct.html)
        assert "\ue000" not in shared.text + shared.html


def test_each_reader_gets_their_own_name_and_link(app, seminar, make_user):
    first, second = make_user(name="Aiko"), make_user(name="Bruno")
    app.extensions.pop(emails._BODIES_EXTENSION, None)
    one = emails.compose(reminder(seminar, first), first, seminar, current_settings())
    two = emails.compose(reminder(seminar, second), second, seminar, current_settings())
    assert "Aiko" in one.text and "Aiko" in one.html and "Bruno" not in one.text + one.html
    assert "Bruno" in two.text and "Bruno" in two.html and "Aiko" not in two.text + two.html
    link_one = next(line for line in one.text.splitlines() if "/unsubscribe/" in line)
    link_two = next(line for line in two.text.splitlines() if "/unsubscribe/" in line)
    assert link_one != link_two
    assert len(app.extensions[emails._BODIES_EXTENSION]) == 1  # rendered once for both


def test_a_changed_session_is_rendered_afresh(app, seminar, make_user):
    user = make_user()
    before = emails.compose(reminder(seminar, user), user, seminar, current_settings())
    seminar.title = "Kihon"
    db.session.commit()
    after = emails.compose(reminder(seminar, user, "reminder_10m"), user, seminar, current_settings())
    assert "Kata" in before.text and "Kihon" in after.text and "Kata" not in after.text


def test_what_is_kept_is_bounded(app, monkeypatch, seminar, make_user):
    monkeypatch.setattr(emails, "_BODIES_KEPT", 2)
    for zone in ("UTC", "Europe/Berlin", "Asia/Tokyo", "America/New_York"):
        user = make_user(timezone=zone)
        emails.compose(reminder(seminar, user), user, seminar, current_settings())
    assert len(app.extensions[emails._BODIES_EXTENSION]) <= 2
