"""Health reads counts that do not grow with history (issue 13), and the indexes the lists and sweeps rely on
exist as the models declare them once the migrations have run."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from portal.core.clock import now_utc
from portal.extensions import db
from portal.notifications.models import Notification
from portal.ops import queries
from portal.training.models import TrainingSession


def _notification(user, status: str, *, updated_ago: timedelta, n: int) -> Notification:
    at = now_utc() - updated_ago
    return Notification(
        channel="email",
        key=f"health:{n}",
        kind="reminder_1h",
        user_id=user.id,
        due_at=at,
        status=status,
        created_at=at,
        updated_at=at,
    )


def test_health_counts_open_emails_and_those_of_the_last_day_only(make_user, login_as, client):
    user = make_user("member")
    rows = [
        ("pending", timedelta(days=40)),  # waiting: counted however old
        ("pending", timedelta(0)),
        ("sending", timedelta(minutes=1)),
        ("sent", timedelta(hours=2)),
        ("sent", timedelta(hours=23)),
        ("sent", timedelta(days=2)),  # history: not counted
        ("sent", timedelta(days=400)),
        ("failed", timedelta(hours=1)),
        ("failed", timedelta(days=3)),
        ("skipped", timedelta(days=10)),
    ]
    db.session.add_all(_notification(user, status, updated_ago=ago, n=n) for n, (status, ago) in enumerate(rows))
    db.session.commit()

    counts = queries.notification_counts(now_utc())
    assert counts == {"pending": 2, "sending": 1, "sent": 2, "skipped": 0, "failed": 1}

    login_as("admin")
    page = client.get("/admin/health").get_data(as_text=True)
    assert "Emails sent in the last 24 hours" in page and "Emails waiting (due now or planned)" in page
    assert '<span class="badge warn">1</span>' in page  # the email given up today stands out


def test_health_counts_failed_rooms_of_sessions_still_to_come_only(make_session):
    make_session(room_status="failed")
    make_session(room_status="failed", status="live", start_in=timedelta(minutes=-5))
    make_session(room_status="failed", status="canceled")  # over: its room no longer matters
    make_session(room_status="ready")
    assert queries.health().rooms_failed == 2


def test_the_migrations_build_every_index_the_models_declare():
    inspector = sa.inspect(db.engine)
    for model in (TrainingSession, Notification):
        declared = {index.name: [c.name for c in index.columns] for index in model.__table__.indexes}
        built = {index["name"]: index["column_names"] for index in inspector.get_indexes(model.__tablename__)}
        assert {name: built.get(name) for name in declared} == declared
    partial = {
        index["name"]: index.get("dialect_options", {}).get(f"{db.engine.dialect.name}_where")
        for index in inspector.get_indexes("training_sessions")
        if index["name"].startswith("ix_training_sessions_unarchived_")
    }
    assert len(partial) == 6
    assert all("archived_at IS NULL" in str(where) for where in partial.values()), partial
