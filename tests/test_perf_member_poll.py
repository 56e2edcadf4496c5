"""A signed-in member's join-panel poll (issue 13): the seats of a polled session are kept beside its 1-second
snapshot (portal/seats/queries.py), so a member's steady poll runs no SQL statement, as an anonymous one; the
member's own seat change shows in their next poll at once (the commit in this process forgets what was kept); a
change made by another process (another engine) shows within the snapshot's age."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.accounts.models import User
from portal.extensions import db
from portal.seats import operations, queries
from portal.seats.models import Seat
from tests.test_auth_sessions import sign_in

HX = {"HX-Request": "true"}
SEATED = "you have a seat"


@pytest.fixture
def server(make_app):
    """The web process polled: an app of its own (its own engine, snapshots and kept sign-ins), whose requests
    each have a database session of their own, as a server's do."""
    return make_app()


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine runs (savepoints and pragmas left out)."""
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        if not statement.lstrip().upper().startswith(("PRAGMA", "SAVEPOINT", "RELEASE")):
            seen.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", note)
    yield seen
    sa.event.remove(sa.engine.Engine, "before_cursor_execute", note)


@pytest.fixture
def fresh_for_a_minute(monkeypatch):
    """Snapshots live 60 s here, so a slow machine never sees one expire between two polls: what a test sees
    change, a commit made it."""
    monkeypatch.setattr(queries, "SNAPSHOT_SECONDS", 60.0)


@pytest.fixture
def later(monkeypatch):
    """later(seconds): the monotonic clock (what the snapshots' age is measured on) moves on."""
    shift = [0.0]
    real = time.monotonic
    monkeypatch.setattr(queries.time, "monotonic", lambda: real() + shift[0])

    def move(seconds: float) -> None:
        shift[0] += seconds

    return move


def member_browser(server, user: User):
    browser = server.test_client()
    sign_in(browser, user)
    return browser


def poll(browser, session_id: int, etag: str | None = None):
    headers = {**HX, **({"If-None-Match": etag} if etag else {})}
    return browser.get(f"/sessions/{session_id}/panel", headers=headers)


def crowded_session(make_session, make_user, member: User | None, seats: int = 30):
    """A session with `seats` seats taken (the member's among them when given) and a few waiting."""
    session = make_session(capacity=seats, start_in=timedelta(hours=2), is_public=True, members_only=False)
    others = [make_user("member") for _ in range(seats + 3 - (member is not None))]
    for person in ([member] if member else []) + others:
        operations.reserve(session, person)
    db.session.commit()
    return session


# ------------------------------------------------------------------------------------------------ no statement
def test_a_members_steady_poll_runs_no_statement_while_the_snapshot_is_fresh(
    server, make_session, make_user, statements, fresh_for_a_minute
):
    member = make_user("member")
    session = crowded_session(make_session, make_user, member)
    browser = member_browser(server, member)
    first = poll(browser, session.id)  # the session's snapshot and its seats are read (and the sign-in, kept)
    assert first.status_code == 200 and SEATED in first.get_data(as_text=True)
    etag = first.headers["ETag"]
    poll(browser, session.id, etag)  # the sign-in generation known, the user kept
    statements.clear()
    for _ in range(5):
        assert poll(browser, session.id, etag).status_code == 304
    full = poll(browser, session.id)
    assert full.status_code == 200 and SEATED in full.get_data(as_text=True)
    assert statements == []

    # a second member of the same session, polling in the same second, reads nothing either (but their sign-in)
    neighbour = db.session.scalar(
        sa.select(User).join(Seat, Seat.user_id == User.id).where(Seat.session_id == session.id, User.id != member.id)
    )
    other_browser = member_browser(server, neighbour)
    poll(other_browser, session.id)
    statements.clear()
    answer = poll(other_browser, session.id)
    assert answer.status_code == 200 and SEATED in answer.get_data(as_text=True)
    assert statements == []


def test_a_member_with_no_seat_and_an_anonymous_visitor_read_nothing_either(
    server, make_session, make_user, statements, fresh_for_a_minute
):
    session = crowded_session(make_session, make_user, None, seats=5)
    browser = member_browser(server, make_user("member"))
    anonymous = server.test_client()
    for who in (browser, anonymous):
        poll(who, session.id)
        poll(who, session.id)
    statements.clear()
    for who in (browser, anonymous):
        body = poll(who, session.id).get_data(as_text=True)
        assert "5 / 5 seats taken" in body and SEATED not in body
    assert statements == []


# ------------------------------------------------------------------------------------------------ own change at once
def test_the_members_own_reserve_and_cancel_show_in_their_next_poll_at_once(
    server, make_session, make_user, fresh_for_a_minute
):
    member = make_user("member")
    session = make_session(capacity=10, start_in=timedelta(hours=2))
    for _ in range(4):
        operations.reserve(session, make_user("member"))
    db.session.commit()
    browser = member_browser(server, member)
    before = poll(browser, session.id)
    etag = before.headers["ETag"]
    assert "4 / 10 seats taken" in before.get_data(as_text=True) and SEATED not in before.get_data(as_text=True)
    assert poll(browser, session.id, etag).status_code == 304  # kept: fresh for a minute

    assert browser.post(f"/sessions/{session.id}/seat", headers=HX).status_code == 200
    seated = poll(browser, session.id, etag)
    assert seated.status_code == 200, "the member's own reserve must show at once"
    assert SEATED in seated.get_data(as_text=True) and "5 / 10 seats taken" in seated.get_data(as_text=True)
    assert poll(browser, session.id, seated.headers["ETag"]).status_code == 304

    assert browser.post(f"/sessions/{session.id}/seat/cancel", headers=HX).status_code == 200
    released = poll(browser, session.id, seated.headers["ETag"])
    assert released.status_code == 200, "the member's own cancel must show at once"
    assert SEATED not in released.get_data(as_text=True) and "4 / 10 seats taken" in released.get_data(as_text=True)


def test_the_own_change_of_a_member_polling_a_page_of_panels_shows_at_once(
    server, make_session, make_user, fresh_for_a_minute
):
    member = make_user("member")
    first, second = (make_session(capacity=3, start_in=timedelta(hours=h)) for h in (2, 3))
    browser = member_browser(server, member)
    url = f"/sessions/panels?ids={first.id},{second.id}"
    assert browser.get(url, headers=HX).status_code == 200
    browser.post(f"/sessions/{second.id}/seat", headers=HX)
    body = browser.get(url, headers=HX).get_data(as_text=True)
    assert body.count(SEATED) == 1 and body.index(f"join-panel-{second.id}") < body.index(SEATED)


# ------------------------------------------------------------------------------------------------ another process
def test_another_processs_change_shows_within_the_snapshots_age(server, make_session, make_user, later):
    """The test's own app is the other process: its writes go through another engine, which does not tell the
    server's snapshots. The server shows the member's new seat once the snapshot is SNAPSHOT_SECONDS old."""
    member = make_user("member")
    session = make_session(capacity=5, start_in=timedelta(hours=2))
    browser = member_browser(server, member)
    assert SEATED not in poll(browser, session.id).get_data(as_text=True)

    operations.reserve(session, member)  # elsewhere
    db.session.commit()
    still = poll(browser, session.id)
    assert SEATED not in still.get_data(as_text=True)  # at most SNAPSHOT_SECONDS late: the trade-off
    later(queries.SNAPSHOT_SECONDS)
    assert SEATED in poll(browser, session.id).get_data(as_text=True)

    operations.cancel_seat(session, member)  # elsewhere again
    db.session.commit()
    later(queries.SNAPSHOT_SECONDS)
    assert SEATED not in poll(browser, session.id).get_data(as_text=True)


# ------------------------------------------------------------------------------------------------ never stale
def test_what_was_read_before_a_commit_landed_is_not_kept(app, make_session, make_user):
    """A poll that read just before a write's commit and keeps it just after must not keep it: every forgetting
    moves the generation on, and the commit forgets again once its connection is back in the pool (after the
    database committed)."""
    session = make_session(capacity=5)
    cache = queries.snapshot_cache()
    cache.clear()
    generation = cache.generation
    cache.clear()  # a write committed meanwhile
    cache.put(session.id, None, time.monotonic() + 60, generation)
    cache.put_seats(session.id, {1: "confirmed"}, time.monotonic() + 60, generation)
    assert session.id not in cache.entries and session.id not in cache.seats

    kept_during_commit: list[bool] = []

    def read_during_commit(conn) -> None:  # runs after the cache's own commit listener, before the database commits
        cache.put_seats(session.id, {1: "stale"}, time.monotonic() + 60, cache.generation)
        kept_during_commit.append(session.id in cache.seats)

    sa.event.listen(db.engine, "commit", read_during_commit)
    try:
        operations.reserve(session, make_user("member"))
        db.session.commit()
    finally:
        sa.event.remove(db.engine, "commit", read_during_commit)
    assert kept_during_commit and all(kept_during_commit)  # each commit of the block (make_user commits too)
    assert session.id not in cache.seats  # forgotten again once committed


# ------------------------------------------------------------------------------------------------ memory
def test_a_session_too_large_to_keep_reads_the_members_own_seat(
    server, make_session, make_user, statements, fresh_for_a_minute, monkeypatch
):
    monkeypatch.setattr(queries, "_SEAT_MAP_MAX", 10)
    member = make_user("member")
    session = crowded_session(make_session, make_user, member, seats=12)
    browser = member_browser(server, member)
    poll(browser, session.id)
    poll(browser, session.id)
    statements.clear()
    assert SEATED in poll(browser, session.id).get_data(as_text=True)
    (own,) = statements  # the member's own seat only; the snapshot is fresh, the session's seats not kept
    assert "seats.user_id =" in own and "training_sessions" not in own
    with server.app_context():
        assert session.id not in queries.snapshot_cache().seats


def test_the_kept_seats_are_bounded(app, monkeypatch):
    monkeypatch.setattr(queries, "_SEAT_ROWS_LIMIT", 5)
    cache = queries.snapshot_cache()
    cache.clear()
    expires = time.monotonic() + 60
    cache.put_seats(1, {1: "confirmed", 2: "confirmed", 3: "waitlisted"}, expires, cache.generation)
    cache.put_seats(2, {1: "confirmed"}, expires, cache.generation)
    assert cache.seat_rows == 4 and set(cache.seats) == {1, 2}
    cache.put_seats(1, {1: "confirmed", 2: "canceled", 3: "confirmed"}, expires, cache.generation)  # replaces
    assert cache.seat_rows == 4
    cache.put_seats(3, {4: "confirmed", 5: "confirmed"}, expires, cache.generation)  # past the limit: all forgotten
    assert set(cache.seats) == {3} and cache.seat_rows == 2
