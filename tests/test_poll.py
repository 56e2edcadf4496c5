"""Polling at scale (SPEC "Polling at scale", issue 13): the join panel's shared part read once per session and
second, 304 to an unchanged panel's ETag, one poller per page of panels refreshing the changed ones out of band,
a fixed number of SQL statements per poll, and (issue 16) waitlist places told right under a burst."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from portal.extensions import db
from portal.seats import operations, queries
from portal.seats.models import Seat
from portal.training.models import TrainingSession
from tests.test_seats import bulk_users

HX = {"HX-Request": "true"}
ACCOUNT_TABLES = ("users", "login_sessions", "api_tokens")  # whoever asks: loaded by accounts, not by the panel


def panel_url(session) -> str:
    return f"/sessions/{session.id}/panel"


def pollers(html: str) -> list[str]:
    """Every element of the page that polls by itself."""
    return re.findall(r"<[^>]*hx-trigger=\"every [^>]*>", html)


class Statements:
    """The SQL statements run inside the block (savepoints and pragmas left out)."""

    def __init__(self) -> None:
        self.all: list[str] = []

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("PRAGMA", "SAVEPOINT", "RELEASE")):
            self.all.append(statement)

    @property
    def panel_part(self) -> list[str]:
        """Leaving out the statements that load the signed-in viewer (accounts' business, the same on every page)."""
        return [s for s in self.all if not re.search(rf"\bFROM ({'|'.join(ACCOUNT_TABLES)})\b", s)]


# ------------------------------------------------------------------------------------------------ 304
def test_an_unchanged_panel_answers_304_to_its_etag_and_a_changed_one_renders(htmx, login_as, make_session, make_user):
    login_as("member", client=htmx)
    session = make_session(capacity=5, start_in=timedelta(hours=2))
    first = htmx.get(panel_url(session))
    etag = first.headers["ETag"]
    assert first.status_code == 200 and f'data-etag="{etag.strip(chr(34))}"' in first.get_data(as_text=True)

    again = htmx.get(panel_url(session), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag and "no-store" in again.headers["Cache-Control"]

    operations.reserve(session, make_user("member"))  # someone else takes a seat
    db.session.commit()
    changed = htmx.get(panel_url(session), headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "1 / 5 seats taken" in changed.get_data(as_text=True)
    assert changed.headers["ETag"] != etag


def test_the_etag_is_the_viewers_own(htmx, client, login_as, make_session):
    session = make_session(is_public=True, members_only=False, start_in=timedelta(hours=2))
    anonymous = htmx.get(panel_url(session)).headers["ETag"]
    login_as("member", client=htmx)
    member = htmx.get(panel_url(session))
    assert member.headers["ETag"] != anonymous
    assert htmx.get(panel_url(session), headers={"If-None-Match": anonymous}).status_code == 200


def test_the_countdown_ticks_in_the_browser_so_seconds_passing_keep_the_etag(htmx, login_as, make_session, clock):
    login_as("member", client=htmx)
    session = make_session(start_time=clock.now() + timedelta(minutes=40))  # the window opens at -30 min
    first = htmx.get(panel_url(session))
    assert 'data-countdown-to="' in first.get_data(as_text=True)
    etag = first.headers["ETag"]
    clock.shift(timedelta(seconds=50))
    assert htmx.get(panel_url(session), headers={"If-None-Match": etag}).status_code == 304
    clock.at(session.start_time - timedelta(minutes=14))  # a new stage: polled every 10 s from now on
    moved = htmx.get(panel_url(session), headers={"If-None-Match": etag})
    assert moved.status_code == 200 and 'hx-trigger="every 10s"' in moved.get_data(as_text=True)
    clock.at(session.start_time - timedelta(minutes=9))  # the window is open: Join is a form now
    opened = htmx.get(panel_url(session), headers={"If-None-Match": moved.headers["ETag"]})
    assert opened.status_code == 200 and f'action="/sessions/{session.id}/join"' in opened.get_data(as_text=True)


def test_a_session_the_viewer_may_not_see_is_not_found_with_or_without_an_etag(htmx, make_session):
    session = make_session(is_public=False)
    assert htmx.get(panel_url(session)).status_code == 404
    assert htmx.get(panel_url(session), headers={"If-None-Match": "*"}).status_code == 404
    assert htmx.get("/sessions/999999/panel").status_code == 404


# ------------------------------------------------------------------------------------------------ SQL per poll
def _poll(client, session, **headers) -> tuple[int, Statements]:
    with Statements() as seen:
        status = client.get(panel_url(session), headers={**HX, **headers}).status_code
    return status, seen


def test_a_poll_runs_a_fixed_number_of_statements_whatever_the_database_holds(
    app, client, login_as, make_session, make_user, make_event
):
    """Cold (the session's snapshot not yet read in this second): one statement for the shared part, waitlist
    included, plus the session's seats (kept beside it). Warm: nothing, signed in or not."""
    member_client = app.test_client()
    member = login_as("member", client=member_client)
    session = make_session(capacity=3, event=make_event(), is_public=True, members_only=False)
    seen: dict[str, list[int]] = {}

    def measure(label: str) -> None:
        queries.snapshot_cache().clear()
        figures = []
        for who in (member_client, client, member_client, client):  # cold, cold, then warm, warm
            status, statements = _poll(who, session)
            assert status == 200
            figures.append(len(statements.panel_part if who is member_client else statements.all))
        seen[label] = figures

    measure("small")
    for _ in range(5):  # many more sessions, seats, waitlist places and events
        other = make_session(capacity=2, event=make_event())
        for _ in range(3):
            operations.reserve(other, make_user("member"))
    for _ in range(6):
        operations.reserve(session, make_user("member"))  # full, with a waitlist of 3
    operations.reserve(session, member)
    db.session.commit()
    measure("large")
    # member cold: snapshot + the session's seats; anonymous cold (member's snapshot is still fresh): nothing;
    # then warm: nothing for either (the member's seat is read from the session's kept seats)
    assert seen["small"] == seen["large"] == [2, 0, 0, 0]
    assert "4 on the waitlist" in member_client.get(panel_url(session), headers=HX).get_data(as_text=True)


def test_the_shared_part_is_one_statement_without_joins_and_counts_the_waitlist_only_when_full(
    login_as, htmx, make_session, make_event
):
    login_as("member", client=htmx)
    roomy = make_session(capacity=10, event=make_event())
    queries.snapshot_cache().clear()
    _, seen = _poll(htmx, roomy)
    (shared,) = [s for s in seen.panel_part if "training_sessions" in s]
    assert " JOIN " not in shared.upper() and "events" not in shared and "users" not in shared
    assert "CASE WHEN" in shared.upper()  # the waitlist subquery only runs for a full session


def test_a_thousand_viewers_in_one_second_read_the_session_once(app, make_session, make_user):
    session = make_session(capacity=3)
    viewers = [make_user("member") for _ in range(5)]
    queries.snapshot_cache().clear()
    with app.test_request_context("/"), Statements() as seen:
        for viewer in viewers:
            assert queries.poll_panels([session.id], viewer)[session.id].session.id == session.id
    shared = [s for s in seen.all if "training_sessions" in s]
    assert len(shared) == 1 and len(seen.all) == 2  # one snapshot, one read of the session's seats for all viewers


def test_a_write_in_this_process_is_seen_by_the_next_poll_at_once(htmx, login_as, make_session, make_user):
    login_as("member", client=htmx)
    session = make_session(capacity=5)
    assert "0 / 5 seats taken" in htmx.get(panel_url(session)).get_data(as_text=True)
    operations.reserve(session, make_user("member"))
    db.session.commit()
    assert "1 / 5 seats taken" in htmx.get(panel_url(session)).get_data(as_text=True)
    db.session.get(TrainingSession, session.id).status = "canceled"
    db.session.commit()
    assert "was canceled" in htmx.get(panel_url(session)).get_data(as_text=True)


def test_a_snapshot_lives_one_second(app, make_session, monkeypatch):
    session = make_session(capacity=5)
    cache = queries.snapshot_cache()
    cache.clear()
    with app.test_request_context("/"):
        queries.snapshots([session.id])
        entry_expires = cache.entries[session.id][0]
        assert 0 < entry_expires - time.monotonic() <= queries.SNAPSHOT_SECONDS
        monkeypatch.setattr(queries.time, "monotonic", lambda: entry_expires + 0.001)
        with Statements() as seen:
            queries.snapshots([session.id])
        assert len(seen.all) == 1  # expired: read again


# ------------------------------------------------------------------------------------------------ one poll per page
def _event_with_sessions(make_event, make_session, clock):
    event = make_event(visibility="public")
    far = make_session(event=event, title="Far one", start_in=timedelta(days=2), is_public=True, members_only=False)
    near = make_session(event=event, title="Near one", start_in=timedelta(minutes=20), is_public=True)
    over = make_session(event=event, title="Old one", start_in=timedelta(days=-2), status="ended", is_public=True)
    return event, far, near, over


def test_the_event_page_has_one_poller_at_the_soonest_interval_and_past_sessions_folded(
    client, login_as, make_event, make_session, clock
):
    login_as("member")
    event, far, near, over = _event_with_sessions(make_event, make_session, clock)
    html = client.get(f"/events/{event.id}").get_data(as_text=True)
    (poller,) = pollers(html)
    assert 'id="panel-poller"' in poller and 'hx-trigger="every 10s"' in poller and 'hx-swap="none"' in poller
    assert f"ids={near.id}%2C{far.id}" in poller or f"ids={near.id},{far.id}" in poller
    for session in (far, near, over):
        assert f'id="join-panel-{session.id}"' in html
    assert 'hx-get="/sessions/' not in html.replace(poller, "")  # no panel polls by itself
    upcoming, _, folded = html.partition("<details")
    assert "Near one" in upcoming and "Far one" in upcoming and "Old one" not in upcoming
    assert "Old one" in folded and upcoming.index("Near one") < upcoming.index("Far one")


def test_my_schedule_has_one_poller_and_folds_past_sessions(client, login_as, make_session, make_seat):
    member = login_as("member")
    soon = make_session(title="Soon", start_in=timedelta(minutes=5))
    later = make_session(title="Later", start_in=timedelta(days=3))
    ended = make_session(title="Done", start_in=timedelta(days=-3), status="ended")
    for session in (soon, later, ended):
        make_seat(session, member)
    html = client.get("/my/schedule").get_data(as_text=True)
    (poller,) = pollers(html)
    assert 'hx-trigger="every 2s"' in poller  # the soonest: waiting for the instructor
    upcoming, _, folded = html.partition("<details")
    assert "Soon" in upcoming and "Later" in upcoming and "Done" not in upcoming and "Done" in folded


def test_the_sessions_list_has_one_poller_for_all_its_panels(client, login_as, make_session):
    login_as("member")
    soon = make_session(title="Soon", start_in=timedelta(minutes=5))
    later = make_session(title="Later", start_in=timedelta(days=3))
    html = client.get("/sessions").get_data(as_text=True)
    (poller,) = pollers(html)
    assert f"ids={soon.id}%2C{later.id}" in poller or f"ids={soon.id},{later.id}" in poller
    assert 'hx-get="/sessions/' not in html.replace(poller, "")  # no panel polls by itself


def test_a_page_whose_sessions_are_all_over_does_not_poll(client, login_as, make_event, make_session):
    login_as("member")
    event = make_event()
    make_session(event=event, start_in=timedelta(days=-1), status="ended")
    html = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert pollers(html) == [] and "hx-get" not in html


def _etags(html: str) -> dict[int, str]:
    return {int(i): tag for i, tag in re.findall(r'id="join-panel-(\d+)"[^>]*data-etag="([^"]+)"', html)}


def test_the_page_poll_answers_304_then_only_the_changed_panels_out_of_band(
    client, htmx, login_as, make_event, make_session, make_user, clock
):
    member = login_as("member")
    login_as(member, client=htmx)
    event, far, near, _ = _event_with_sessions(make_event, make_session, clock)
    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    url = re.search(r'hx-get="([^"]+)"', pollers(page)[0]).group(1).replace("&amp;", "&")
    shown = _etags(page)
    if_none_match = ", ".join(f'"{tag}"' for tag in shown.values())

    assert htmx.get(url, headers={"If-None-Match": if_none_match}).status_code == 304
    operations.reserve(db.session.get(TrainingSession, far.id), make_user("member"))
    db.session.commit()
    answer = htmx.get(url, headers={"If-None-Match": if_none_match})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "no-store" in answer.headers["Cache-Control"]
    assert re.findall(r'id="join-panel-(\d+)"', html) == [str(far.id)]  # only the changed one
    assert re.search(rf'id="join-panel-{far.id}"[^>]*hx-swap-oob="true"', html)
    assert "1 / " in html or "1 seat taken" in html
    assert re.search(r'id="panel-poller"[^>]*hx-swap-oob="true"', html)  # the poller again, same interval
    assert 'hx-trigger="every 10s"' in html and len(pollers(html)) == 1
    assert _etags(html)[far.id] != shown[far.id]
    # without any ETag (a first poll) every panel comes, still one poller
    everything = htmx.get(url).get_data(as_text=True)
    assert set(_etags(everything)) == {far.id, near.id} and len(pollers(everything)) == 1


def test_the_page_poll_leaves_out_what_the_viewer_may_not_see_and_refuses_junk(htmx, make_session):
    hidden = make_session(is_public=False)
    shown = make_session(is_public=True, members_only=False)
    html = htmx.get(f"/sessions/panels?ids={hidden.id},{shown.id}").get_data(as_text=True)
    assert f"join-panel-{shown.id}" in html and f"join-panel-{hidden.id}" not in html
    for junk in ("", "1,x", "-1", ",".join(str(i) for i in range(1, 300)), "99999999999999999999"):
        response = htmx.get(f"/sessions/panels?ids={junk}")
        assert response.status_code == 422, junk


def test_a_final_panel_leaves_the_poller_and_a_page_with_nothing_left_stops(
    client, htmx, login_as, make_event, make_session
):
    login_as("member", client=htmx)
    event = make_event()
    only = make_session(event=event, start_in=timedelta(hours=1))
    url = f"/sessions/panels?ids={only.id}"
    etag = _etags(htmx.get(url).get_data(as_text=True))[only.id]
    db.session.get(TrainingSession, only.id).status = "canceled"
    db.session.commit()
    html = htmx.get(url, headers={"If-None-Match": f'"{etag}"'}).get_data(as_text=True)
    assert "was canceled" in html and pollers(html) == [] and 'id="panel-poller"' in html


def test_a_seat_button_on_a_page_of_panels_answers_a_panel_that_does_not_poll_by_itself(htmx, login_as, make_session):
    login_as("member", client=htmx)
    session = make_session(capacity=4)
    html = htmx.post(f"/sessions/{session.id}/seat", data={"waitlist": "0", "group": "1"}).get_data(as_text=True)
    assert "You have a seat." in html and pollers(html) == [] and 'name="group" value="1"' in html
    alone = htmx.post(f"/sessions/{session.id}/seat/cancel").get_data(as_text=True)
    assert len(pollers(alone)) == 1  # on the session page the panel still polls itself


def test_the_session_page_keeps_one_self_polling_panel(client, login_as, make_session):
    login_as("member")
    session = make_session(start_in=timedelta(hours=3))
    html = client.get(f"/sessions/{session.id}").get_data(as_text=True)
    (poller,) = pollers(html)
    assert f'hx-get="/sessions/{session.id}/panel"' in poller and "data-etag=" in poller


# ------------------------------------------------------------------------------------------------ waitlist places
def _burst(app, session_id: int, user_ids: list[int]) -> dict[int, int | None]:
    """Every user asks for a seat at once (each thread its own connection), as the seat endpoints do: reserve,
    then the place told in the answer, in the same transaction, then commit."""
    told: dict[int, int | None] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(user_ids))

    def run(user_id: int) -> None:
        barrier.wait()
        with app.app_context():
            try:
                session = db.session.get(TrainingSession, session_id)
                user = db.session.get(type(session.instructor), user_id)
                operations.reserve(session, user)
                told[user_id] = queries.waitlist_position(session, user)
                db.session.commit()
            except BaseException as exc:
                db.session.rollback()
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(uid,)) for uid in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a reservation hung"
    db.engine.dispose()
    assert errors == []
    return told


@pytest.mark.parametrize("capacity", [1, 3])
def test_a_burst_of_waitlisters_is_each_told_their_true_place(app, make_session, capacity):
    session = make_session(capacity=capacity, start_in=timedelta(days=2))
    user_ids = bulk_users(24)
    told = _burst(app, session.id, user_ids)
    order = db.session.scalars(
        select(Seat.user_id)
        .where(Seat.session_id == session.id, Seat.status == "waitlisted")
        .order_by(Seat.waitlisted_at, Seat.id)
    ).all()
    assert len(order) == 24 - capacity
    assert {uid: told[uid] for uid in order} == {uid: place for place, uid in enumerate(order, start=1)}
    assert all(told[uid] is None for uid in user_ids if uid not in order)  # the seated are told no place
