"""`portal demo`: users of every role, events, sessions at useful moments and seats; safe to run twice."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import func, select

from portal.accounts import operations as accounts
from portal.accounts.models import User
from portal.cli import main
from portal.demo import USERS
from portal.events.models import Event
from portal.extensions import db
from portal.seats.models import Seat
from portal.training.models import TrainingSession


def run_demo(monkeypatch, base_config, tmp_path, *args):
    for key in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
        monkeypatch.setenv(f"PORTAL_{key}", base_config[key])
    monkeypatch.setenv("PORTAL_ENV", "test")
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path))
    result = CliRunner().invoke(main, ["demo", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    return result.output


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_demo_creates_every_role_and_prints_how_to_sign_in(monkeypatch, base_config, tmp_path):
    output = run_demo(monkeypatch, base_config, tmp_path)
    roles = set(db.session.scalars(select(User.role)))
    assert roles == {"public", "member", "instructor", "board_member", "admin"}
    for spec in USERS:
        assert spec.email in output
        assert accounts.authenticate(spec.email, "demo-password") is not None
    assert "demo-password" in output and "/login" in output


def test_demo_sessions_include_one_about_to_open_and_seats_and_a_waitlist(monkeypatch, base_config, tmp_path):
    from portal.core.clock import now_utc

    run_demo(monkeypatch, base_config, tmp_path)
    sessions = db.session.scalars(select(TrainingSession).order_by(TrainingSession.start_time)).all()
    upcoming = [s for s in sessions if s.status == "scheduled"]
    minutes_away = [(s.start_time - now_utc()).total_seconds() / 60 for s in upcoming]
    assert any(0 < m <= 10 for m in minutes_away)  # startable and joinable soon
    assert any(10 < m <= 15 for m in minutes_away)  # opens for joining in a few minutes
    assert any(s.status == "ended" for s in sessions)
    assert all(s.room_status == "ready" for s in upcoming if (s.start_time - now_utc()).total_seconds() < 3600)
    kumite = next(s for s in sessions if s.title == "Kumite tactics")
    statuses = sorted(db.session.scalars(select(Seat.status).where(Seat.session_id == kumite.id)))
    assert statuses == ["confirmed", "confirmed", "waitlisted"] and kumite.seats_taken == 2


def test_demo_is_safe_to_run_twice(monkeypatch, base_config, tmp_path):
    run_demo(monkeypatch, base_config, tmp_path)
    first = (count(User), count(Event), count(TrainingSession), count(Seat))
    run_demo(monkeypatch, base_config, tmp_path)
    assert (count(User), count(Event), count(TrainingSession), count(Seat)) == first


def test_demo_refuses_production(monkeypatch, base_config, tmp_path):
    for key in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.setenv(f"PORTAL_{key}", base_config[key])
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("PORTAL_BASE_URL", "https://training.example.org")  # settings a production start accepts:
    monkeypatch.setenv("PORTAL_SECRET_KEY", "a-Production-Secret-0123456789-abcdefghij")  # the demo refuses itself
    monkeypatch.setenv("PORTAL_INSTANCE_PATH", str(tmp_path))
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code != 0 and "production" in result.output
    assert count(User) == 0
