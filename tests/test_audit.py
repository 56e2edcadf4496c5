"""The audit log: every create, update, cancel, start and end of a session or event is recorded with actor, time
and what changed; admins read it on one page, filtered by record."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.extensions import db
from portal.training import operations
from tests.conftest import NOW


def entries(entity_type="training_session"):
    return db.session.scalars(
        select(AuditEntry).where(AuditEntry.entity_type == entity_type).order_by(AuditEntry.id)
    ).all()


def test_every_transition_is_recorded_with_actor_time_and_changes(clock, make_user):
    instructor = make_user("instructor")
    session = operations.create_session(
        {"title": "Audit me", "start_time": (NOW + timedelta(minutes=15)).isoformat(), "duration_minutes": 60},
        actor=instructor,
    )
    clock.shift(timedelta(minutes=5))
    operations.update_session(session, {"duration_minutes": 90, "title": "Audit me"}, actor=instructor)
    operations.start_session(session, actor=instructor)
    operations.end_session(session, actor=instructor)
    db.session.commit()
    log = entries()
    assert [e.action for e in log] == ["session.create", "session.update", "session.start", "session.end"]
    assert all(e.actor_id == instructor.id for e in log)
    assert log[0].created_at == NOW and log[1].created_at == NOW + timedelta(minutes=5)
    assert log[0].changes["title"] == "Audit me"
    assert log[1].changes == {"duration_minutes": [60, 90]}  # only what changed
    assert log[2].changes["status"] == ["scheduled", "live"]
    assert log[3].changes["status"] == ["live", "ended"] and log[3].changes["end_reason"] == "instructor"


def test_an_update_that_changes_nothing_is_not_recorded(make_session):
    session = make_session(title="Same")
    operations.update_session(session, {"title": "Same"}, actor=session.instructor)
    assert entries() == []


def test_a_cancel_records_who_canceled_and_the_seats_released(make_session, make_user):
    board = make_user("board_member")
    session = make_session()
    operations.cancel_session(session, actor=board)
    db.session.commit()
    (entry,) = entries()
    assert (entry.action, entry.actor_id, entry.changes["seats_released"]) == ("session.cancel", board.id, 0)


def test_events_are_audited_too(make_user):
    from portal.events import operations as events

    board = make_user("board_member")
    event = events.create_event(
        {"title": "Camp", "start_time": "2027-01-01T10:00:00+00:00", "end_time": "2027-01-02T10:00:00+00:00"},
        actor=board,
    )
    events.update_event(event, {"location": "Hall"}, actor=board)
    db.session.commit()
    assert [(e.action, e.changes.get("location")) for e in entries("event")] == [
        ("event.create", ""),
        ("event.update", ["", "Hall"]),
    ]


def test_admins_read_the_log_filtered_by_record(client, login_as, make_session):
    first, second = make_session(title="First"), make_session(title="Second")
    operations.update_session(first, {"title": "First renamed"}, actor=first.instructor)
    operations.update_session(second, {"title": "Second renamed"}, actor=second.instructor)
    db.session.commit()
    login_as("admin")
    page = client.get(f"/admin/audit?entity_type=training_session&entity_id={first.id}").get_data(as_text=True)
    assert "First renamed" in page and "Second renamed" not in page
    assert first.instructor.name in page and "session.update" in page
    everything = client.get("/admin/audit").get_data(as_text=True)
    assert "First renamed" in everything and "Second renamed" in everything


def test_the_worker_shows_as_system(client, login_as, make_session):
    session = make_session(start_in=timedelta(hours=-3))
    operations.end_session(session, actor=None, reason="not_started")
    db.session.commit()
    login_as("admin")
    assert "<em>system</em>" in client.get("/admin/audit").get_data(as_text=True)


def test_a_bad_filter_is_a_400_not_a_500(client, login_as):
    login_as("admin")
    assert client.get("/admin/audit?entity_id=abc").status_code == 400
