"""How long the every-minute reminders sweep takes with many sessions and seat holders (SQLite file by default,
or PORTAL_DATABASE_URL). Run: .venv/bin/python bench/reminders_sweep.py [sessions] [seats_per_session]

It builds the data in a throw-away instance, then times: the first sweep (plans every reminder row), a steady
sweep (nothing new: what runs every minute).
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import timedelta

from portal import create_app


def main(n_sessions: int = 200, seats: int = 20) -> None:
    from portal.accounts.models import User
    from portal.core import migrate
    from portal.core.clock import now_utc
    from portal.extensions import db
    from portal.notifications.jobs import sweep_reminders
    from portal.notifications.models import Notification
    from portal.seats.models import Seat
    from portal.training.models import TrainingSession

    instance = tempfile.mkdtemp(prefix="bench-")
    app = create_app(
        {"ENV": "test", "SECRET_KEY": "b" * 40, "INSTANCE_PATH": instance, "REDIS_URL": "redis://127.0.0.1:1/0"}
    )  # no Redis: the fan-out is logged and dropped
    with app.app_context():
        migrate.upgrade()
        long_ago = now_utc() - timedelta(days=5)
        users = [
            User(email=f"u{i}@example.org", name=f"U {i}", password_hash="", role="member") for i in range(seats + 1)
        ]
        db.session.add_all(users)
        db.session.flush()
        for i in range(n_sessions):
            session = TrainingSession(title=f"S {i}", instructor_id=users[0].id, created_at=long_ago)
            session.set_schedule(now_utc() + timedelta(hours=24, minutes=5 + i % 50), 60)  # planned, none due
            db.session.add(session)
            db.session.flush()
            db.session.add_all(
                Seat(session_id=session.id, user_id=u.id, status="confirmed", confirmed_at=long_ago) for u in users[1:]
            )
        db.session.commit()
        for label in ("first sweep (plans every row)", "steady sweep (every minute)"):
            started = time.perf_counter()
            sweep_reminders()
            print(f"{label:40s} {time.perf_counter() - started:7.2f} s")
        rows = db.session.query(Notification).count()
        print(f"{'reminder rows':40s} {rows:7d}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
