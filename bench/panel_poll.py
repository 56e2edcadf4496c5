"""Benchmark: one join-panel poll (the request every open event page repeats every 2-60 s).

Builds two SQLite databases side by side — a small one and a large one (many events, sessions, seats) — and
measures, in the same run, SQL statements and wall time per poll of the htmx partial for an anonymous visitor
and a signed-in member holding a seat. The point to show: a poll costs the same whatever the database holds.

    .venv/bin/python bench/panel_poll.py [--polls 300] [--large-sessions 3000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from portal import create_app
from portal.accounts.models import User
from portal.core import migrate
from portal.core.clock import now_utc
from portal.events.models import Event
from portal.extensions import db
from portal.seats.models import Seat
from portal.training.models import TrainingSession


def build(app, sessions: int, seats_per_session: int) -> tuple[int, int]:
    """Fill the database; return (session id to poll, member id holding a seat in it)."""
    now = now_utc()
    with app.app_context():
        migrate.upgrade()
        instructor = User(email="i@example.org", name="Instructor", role="instructor", password_hash="!unusable")  # noqa: S106 - never signs in
        members = [
            User(email=f"m{i}@example.org", name=f"M{i}", role="member", password_hash="!unusable")  # noqa: S106 - never signs in
            for i in range(max(seats_per_session, 1))
        ]
        db.session.add_all([instructor, *members])
        db.session.flush()
        events = [
            Event(
                title=f"Event {i}",
                start_time=now + timedelta(days=i % 60),
                end_time=now + timedelta(days=i % 60, hours=6),
                visibility="public",
                created_by_id=instructor.id,
            )
            for i in range(max(sessions // 10, 1))
        ]
        db.session.add_all(events)
        db.session.flush()
        rows = []
        for i in range(sessions):
            s = TrainingSession(
                title=f"Session {i}",
                instructor_id=instructor.id,
                event_id=events[i % len(events)].id,
                capacity=seats_per_session + 5,
                seats_taken=seats_per_session,
                is_public=True,
                members_only=False,
            )
            s.set_schedule(now + timedelta(minutes=30 + i), 60)
            rows.append(s)
        db.session.add_all(rows)
        db.session.flush()
        db.session.execute(
            sa.insert(Seat),
            [
                {
                    "session_id": s.id,
                    "user_id": m.id,
                    "status": "confirmed",
                    "confirmed_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for s in rows
                for m in members[:seats_per_session]
            ],
        )
        db.session.commit()
        return rows[len(rows) // 2].id, members[0].id


def _counter(statements: list[int]):
    def count(*_args, **_kwargs) -> None:
        statements.append(1)

    return count


def measure(app, session_id: int, member_id: int, polls: int) -> dict[str, dict[str, float]]:
    results = {}
    for who in ("anonymous", "member"):
        client = app.test_client()
        if who == "member":
            with client.session_transaction() as flask_session:
                flask_session["_user_id"] = str(member_id)
        statements: list[int] = []
        with app.app_context():
            engine = db.engine
        count = _counter(statements)

        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            url = f"/sessions/{session_id}/panel"
            for _ in range(20):  # warm up
                assert client.get(url, headers={"HX-Request": "true"}).status_code == 200
            statements.clear()
            timings = []
            for _ in range(polls):
                start = time.perf_counter()
                response = client.get(url, headers={"HX-Request": "true"})
                timings.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        results[who] = {
            "queries": len(statements) / polls,
            "median_ms": statistics.median(timings),
            "p95_ms": sorted(timings)[int(polls * 0.95) - 1],
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=300)
    parser.add_argument("--large-sessions", type=int, default=3000)
    parser.add_argument("--seats", type=int, default=20)
    args = parser.parse_args()
    sizes = {"small": (10, 3), "large": (args.large_sessions, args.seats)}
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (sessions, seats) in sizes.items():
            folder = Path(tmp) / name
            folder.mkdir()
            app = create_app(
                {
                    "ENV": "test",
                    "SECRET_KEY": "bench-" + "x" * 40,
                    "INSTANCE_PATH": str(folder),
                    "DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
                    "REDIS_URL": "redis://127.0.0.1:1/0",
                    "WTF_CSRF_ENABLED": False,
                }
            )
            session_id, member_id = build(app, sessions, seats)
            figures[name] = (sessions, sessions * seats, measure(app, session_id, member_id, args.polls))
    print(f"join-panel poll, {args.polls} polls each (SQLite, in-process test client)")
    print(f"{'database':<36}{'viewer':<11}{'queries/poll':>13}{'median ms':>11}{'p95 ms':>9}")
    for name, (sessions, seats, by_viewer) in figures.items():
        for who, f in by_viewer.items():
            label = f"{name}: {sessions} sessions, {seats} seats"
            print(f"{label:<36}{who:<11}{f['queries']:>13.1f}{f['median_ms']:>11.2f}{f['p95_ms']:>9.2f}")
    for who in ("anonymous", "member"):
        ratio = figures["large"][2][who]["median_ms"] / figures["small"][2][who]["median_ms"]
        print(f"large/small median time, {who}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
