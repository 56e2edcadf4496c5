"""Assistants cost the lists no statement per session (issue 12 with issue 13): a page that asks who teaches each
session (an instructor's join panels, the API's assistant_ids) reads the page's assistants in one statement; the
lists of members and visitors, and "My sessions", never read them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.training.models import SessionAssistant, TrainingSession
from tests.test_sql_counts import _add_history, counted

# (who asks, path, how many statements read session_assistants)
PAGES = [
    ("anonymous", "/", 0),
    ("member", "/", 0),
    ("member", "/sessions", 0),
    ("member", "/sessions?past=1", 0),
    ("api", "/api/training/sessions", 1),
    ("api", "/api/training/sessions?sort_by=title&sort_order=desc&limit=100", 1),
    ("instructor", "/", 1),
    ("instructor", "/sessions", 1),
    ("instructor", "/sessions?past=1", 1),
    # the subquery "led or assisted by" inside each list's one statement (coming up, past): no statement more
    ("instructor", "/my/sessions", 2),
    ("instructor", "/my/sessions?archived=1", 2),
]


def _with_assistants(assistants) -> None:
    """Every session without assistants gets two."""
    assisted = sa.select(SessionAssistant.session_id)
    for session_id in db.session.scalars(sa.select(TrainingSession.id).where(TrainingSession.id.not_in(assisted))):
        lead = db.session.get(TrainingSession, session_id).instructor_id
        for user in [a for a in assistants if a.id != lead][:2]:
            db.session.add(SessionAssistant(session_id=session_id, user_id=user.id))
    db.session.commit()


def _statements(client, path: str) -> list[str]:
    """The page's statements about sessions and their assistants (tests/test_sql_counts.py counts all of them)."""
    client.get(path)  # warm what is per process
    with counted() as statements:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return [s for s in statements if "training_sessions" in s or "session_assistants" in s]


@pytest.fixture
def clients(app, login_as, api_client, make_user):
    instructor = make_user("instructor")
    clients = {"anonymous": app.test_client(), "api": api_client("member")[0]}
    clients["member"] = app.test_client()
    login_as("member", client=clients["member"])
    clients["instructor"] = app.test_client()
    login_as(instructor, client=clients["instructor"])
    return clients, instructor


def test_assistants_are_read_once_per_page_and_only_where_a_page_asks(clients, make_user):
    clients, instructor = clients
    members = [make_user("member")]
    assistants = [instructor, make_user("instructor"), make_user("instructor")]
    _add_history(3, instructor, members, make_user)
    _with_assistants(assistants)
    few = {}
    for who, path, reads in PAGES:
        statements = _statements(clients[who], path)
        few[(who, path)] = len(statements)
        assert sum("session_assistants" in s for s in statements) == reads, (who, path, statements)
    _add_history(27, instructor, members, make_user)
    _with_assistants(assistants)
    many = {(who, path): len(_statements(clients[who], path)) for who, path, _ in PAGES}
    assert many == few
    # the instructor assists sessions on "My sessions" as well as leading some
    mine = clients["instructor"].get("/my/sessions").get_data(as_text=True)
    assert "<td>Assistant</td>" in mine and "<td>Lead</td>" in mine
