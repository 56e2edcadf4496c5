"""Each main page asks the database a fixed number of SQL statements, however many sessions there are (issue 13):
no statement per listed session (N+1), no page that loads every row. Counted with a before_cursor_execute listener
around one request, with 3 sessions of each kind and again with 30."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.core.clock import now_utc
from portal.events.models import Event
from portal.extensions import db
from portal.notifications.models import Notification
from portal.seats.models import Seat
from portal.training.models import SessionStatus, TrainingSession

# (who asks, path): the home page, the lists, the API list, an instructor's sessions, the admin's Health page
PAGES = [
    ("anonymous", "/"),
    ("member", "/"),
    ("member", "/sessions"),
    ("member", "/sessions?past=1"),
    ("api", "/api/training/sessions"),
    ("api", "/api/training/sessions?sort_by=title&sort_order=desc&limit=100"),
    ("instructor", "/my/sessions"),
    ("instructor", "/my/sessions?archived=1"),
    ("admin", "/admin/health"),
]


@contextmanager
def counted() -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def _add_history(n: int, instructor, members, make_user) -> None:
    """n sessions of each kind, every other one taught by `instructor`, each kind's i-th in event i: coming (with
    seats, some public), live, ended, canceled, archived; and notifications in each status."""
    now = now_utc()
    rows = []
    for i in range(n):
        event = Event(
            title=f"Event {i}",
            visibility="public",
            start_time=now - timedelta(days=40),
            end_time=now + timedelta(days=40),
            created_by_id=instructor.id,
        )
        db.session.add(event)
        db.session.flush()
        teacher = instructor if i % 2 == 0 else make_user("instructor")  # each page shows several instructors
        kinds = [
            (timedelta(hours=2 + i), SessionStatus.SCHEDULED, None),
            (timedelta(minutes=-10, seconds=-i), SessionStatus.LIVE, None),
            (-timedelta(days=1 + i), SessionStatus.ENDED, None),
            (timedelta(days=2 + i), SessionStatus.CANCELED, None),
            (-timedelta(days=30 + i), SessionStatus.ENDED, now),
        ]
        for start_in, status, archived_at in kinds:
            session = TrainingSession(
                title=f"{status} {i}",
                instructor_id=teacher.id,
                event_id=event.id,
                status=status.value,
                archived_at=archived_at,
                is_public=i % 2 == 0,
                capacity=1 if i % 3 == 0 else None,
            )
            session.set_schedule(now + start_in, 60)
            rows.append(session)
    db.session.add_all(rows)
    db.session.flush()
    for session in rows:
        for k, member in enumerate(members):
            status = "confirmed" if k == 0 or not session.capacity else "waitlisted"
            db.session.add(Seat(session_id=session.id, user_id=member.id, status=status))
        session.seats_taken = 1 if session.capacity else len(members)
        for status in ("pending", "sent", "failed"):
            db.session.add(
                Notification(
                    channel="email",
                    key=f"test:{status}:{session.id}",
                    kind="reminder_1h",
                    user_id=members[0].id,
                    session_id=session.id,
                    due_at=session.start_time,
                    status=status,
                )
            )
    db.session.commit()


def _statements(client, path: str) -> int:
    client.get(path)  # the first request warms what is per process (user loader caches, compiled statements)
    with counted() as statements:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(statements)


@pytest.fixture
def clients(app, login_as, api_client, make_user):
    instructor = make_user("instructor")
    clients = {"anonymous": app.test_client(), "api": api_client("member")[0]}
    for role in ("member", "admin"):
        clients[role] = app.test_client()
        login_as(role, client=clients[role])
    clients["instructor"] = app.test_client()
    login_as(instructor, client=clients["instructor"])
    return clients, instructor


def test_each_main_page_asks_the_same_statements_with_3_or_30_sessions_of_each_kind(clients, make_user):
    clients, instructor = clients
    members = [make_user("member") for _ in range(3)]
    _add_history(3, instructor, members, make_user)
    few = {(who, path): _statements(clients[who], path) for who, path in PAGES}
    _add_history(27, instructor, members, make_user)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TrainingSession)) == 150
    many = {(who, path): _statements(clients[who], path) for who, path in PAGES}
    assert many == few
    assert all(0 < count <= 12 for count in few.values()), few  # and few of them


def test_the_lists_page_by_page_with_next_links_not_totals(clients, make_user):
    clients, instructor = clients
    _add_history(60, instructor, [make_user("member")], make_user)
    member = clients["member"]
    first = member.get("/sessions").get_data(as_text=True)
    assert first.count('class="card session-item"') == 50 and 'rel="next"' in first and 'rel="prev"' not in first
    second = member.get("/sessions?page=2").get_data(as_text=True)
    assert second.count('class="card session-item"') == 50 and 'rel="prev"' in second and 'rel="next"' in second
    third = member.get("/sessions?page=3").get_data(as_text=True)  # 60 scheduled + 60 live = 120 upcoming
    assert third.count('class="card session-item"') == 20 and 'rel="prev"' in third and 'rel="next"' not in third
    shown = re.compile(r'<h3><a href="/sessions/(\d+)">')
    assert shown.findall(member.get("/sessions?page=x").get_data(as_text=True)) == shown.findall(first)  # page 1
    mine = clients["instructor"].get("/my/sessions").get_data(as_text=True)
    assert 'rel="next"' in mine  # 30 ended + 30 canceled past sessions of theirs: more than one page
    archived = clients["instructor"].get("/my/sessions?archived=1&page=2").get_data(as_text=True)
    assert "archived=1" in archived and 'rel="prev"' in archived
