"""The join panel partial: what it shows to whom, how often it asks again, and when it stops."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event

from portal.extensions import db
from portal.seats import operations


def csrf_token(client) -> str:
    """The CSRF token of `client`'s browser session, as every page hands it out on <body hx-headers>."""
    html = client.get("/", headers={"HX-Request": "false"}).get_data(as_text=True)
    match = re.search(r'"X-CSRFToken": "([^"]+)"', html)
    assert match, "every page carries the CSRF token"
    return match.group(1)


def post(client, url: str, data: dict | None = None, **kwargs):
    """A form post as a browser sends it: with the session's CSRF token."""
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(client)}, **kwargs)


def panel_url(session) -> str:
    return f"/sessions/{session.id}/panel"


def trigger(html: str) -> str | None:
    match = re.search(r'hx-trigger="([^"]*)"', html)
    return match.group(1) if match else None


@pytest.mark.parametrize(
    ("start_in", "expected"),
    [
        (timedelta(hours=2), "every 60s"),
        (timedelta(minutes=25, seconds=1), "every 60s"),
        (timedelta(minutes=25), "every 10s"),
        (timedelta(minutes=12), "every 10s"),
        (timedelta(minutes=11), "every 2s"),
        (timedelta(minutes=10, seconds=30), "every 2s"),
        (timedelta(minutes=4), "every 2s"),  # inside the window: waiting for the instructor
        (timedelta(minutes=-3), "every 2s"),  # past the start, still not started
    ],
)
def test_the_panel_polls_at_the_interval_of_its_stage(htmx, login_as, make_session, clock, start_in, expected):
    login_as("member", client=htmx)
    session = make_session(start_in=start_in)
    response = htmx.get(panel_url(session))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert trigger(html) == expected
    assert f'hx-get="/sessions/{session.id}/panel"' in html and 'hx-swap="outerHTML"' in html


def test_moving_the_clock_walks_the_panel_through_every_stage(htmx, login_as, make_session, clock):
    login_as("member", client=htmx)
    session = make_session(start_time=clock.now() + timedelta(hours=1))
    seen = []
    for before in (
        timedelta(minutes=40),
        timedelta(minutes=20),
        timedelta(minutes=10, seconds=30),
        timedelta(minutes=5),
    ):
        clock.at(session.start_time - before)
        seen.append(trigger(htmx.get(panel_url(session)).get_data(as_text=True)))
    session.status = "live"
    db.session.commit()
    seen.append(trigger(htmx.get(panel_url(session)).get_data(as_text=True)))
    session.status = "ended"
    db.session.commit()
    seen.append(trigger(htmx.get(panel_url(session)).get_data(as_text=True)))
    assert seen == ["every 60s", "every 10s", "every 2s", "every 2s", "every 10s", None]


@pytest.mark.parametrize("status", ["ended", "canceled"])
def test_a_final_session_renders_without_a_trigger_so_polling_stops(htmx, login_as, make_session, status):
    login_as("member", client=htmx)
    session = make_session(start_in=timedelta(minutes=-60), status=status)
    html = htmx.get(panel_url(session)).get_data(as_text=True)
    assert "hx-trigger" not in html and "hx-get" not in html
    assert "disabled" in html and ("has ended" in html or "was canceled" in html)


def test_the_panel_is_never_cached(htmx, login_as, make_session):
    login_as("member", client=htmx)
    response = htmx.get(panel_url(make_session()))
    assert "no-store" in response.headers["Cache-Control"]
    assert "HX-Request" in response.headers["Vary"]


def test_without_htmx_the_panel_url_sends_the_browser_to_the_session_page(client, login_as, make_session):
    login_as("member")
    session = make_session()
    response = client.get(panel_url(session))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/sessions/{session.id}")


def test_before_the_window_the_join_button_is_disabled_with_its_reason(htmx, login_as, make_session, clock):
    login_as("member", client=htmx)
    session = make_session(start_in=timedelta(hours=1))
    html = htmx.get(panel_url(session)).get_data(as_text=True)
    assert re.search(r'<button type="button" class="join-button" disabled[^>]*>Join</button>', html)
    assert "Join opens in <span" in html and "50 min 00 s</span>" in html
    assert "Joining opens at 09:50 UTC, 10 minutes before the start." in html
    assert f'data-countdown-to="{(session.start_time - timedelta(minutes=10)).isoformat()}"' in html
    assert f'action="/sessions/{session.id}/join"' not in html


def test_inside_the_window_the_join_button_is_a_real_post_form(htmx, login_as, make_session, clock):
    login_as("member", client=htmx)
    session = make_session(start_in=timedelta(minutes=8))
    html = htmx.get(panel_url(session)).get_data(as_text=True)
    assert re.search(rf'<form method="post" action="/sessions/{session.id}/join"', html)
    assert 'name="csrf_token"' in html
    assert "disabled" not in html
    assert "Starts in" in html and "8 min 00 s" in html


def test_the_panel_shows_the_start_in_the_viewers_zone_with_the_zone(htmx, login_as, make_session, clock):
    login_as("member", client=htmx, timezone="Europe/Berlin")
    session = make_session(start_time=clock.now() + timedelta(days=1))  # 2026-12-02 09:00 UTC
    html = htmx.get(panel_url(session)).get_data(as_text=True)
    assert "Wed 02 Dec 2026, 10:00 CET" in html


def test_the_panel_shows_seats_taken_of_capacity_and_the_waitlist(htmx, login_as, make_session, make_user):
    member = login_as("member", client=htmx)
    session = make_session(capacity=1)
    operations.reserve(session, make_user("member"))
    operations.reserve(session, member)
    db.session.commit()
    html = htmx.get(panel_url(session)).get_data(as_text=True)
    assert "1 / 1 seats taken" in html and "1 on the waitlist" in html and "you are on the waitlist" in html
    assert "Leave the waitlist" in html


@pytest.mark.parametrize(
    ("capacity", "taken", "button"),
    [(3, 0, "Reserve a seat"), (1, 1, "Join the waitlist"), (None, 0, "Reserve a seat")],
)
def test_members_get_the_seat_button_that_fits(htmx, login_as, make_session, make_user, capacity, taken, button):
    login_as("member", client=htmx)
    session = make_session(capacity=capacity, seats_taken=taken)
    html = htmx.get(panel_url(session)).get_data(as_text=True)
    assert button in html
    assert f'hx-post="/sessions/{session.id}/seat"' in html and f'action="/sessions/{session.id}/seat"' in html


def test_anonymous_visitors_see_a_public_session_and_a_sign_in_link(htmx, make_session):
    session = make_session(is_public=True, members_only=False, start_in=timedelta(minutes=5))
    html = htmx.get(panel_url(session)).get_data(as_text=True)
    assert "Sign in to join" in html
    assert f"/login?next=/sessions/{session.id}" in html
    assert "Reserve" not in html and trigger(html) == "every 2s"


def test_anonymous_visitors_get_404_for_a_non_public_session(htmx, make_session):
    assert htmx.get(panel_url(make_session(is_public=False))).status_code == 404


def test_a_public_user_sees_members_only_on_a_public_members_only_session(htmx, login_as, make_session):
    login_as("public", client=htmx)
    session = make_session(is_public=True, members_only=True, start_in=timedelta(minutes=5))
    html = htmx.get(panel_url(session)).get_data(as_text=True)
    assert "This session is for members only." in html and "disabled" in html
    assert "Reserve" not in html


def test_the_instructor_sees_an_open_join_button_days_ahead_and_no_seat_button(htmx, login_as, make_session):
    instructor = login_as("instructor", client=htmx)
    session = make_session(instructor=instructor, start_in=timedelta(days=3), capacity=2)
    html = htmx.get(panel_url(session)).get_data(as_text=True)
    assert f'action="/sessions/{session.id}/join"' in html
    assert "Reserve" not in html
    assert trigger(html) == "every 60s"


def test_reserving_from_the_panel_with_htmx_returns_the_updated_panel(htmx, login_as, make_session):
    login_as("member", client=htmx)
    session = make_session(capacity=2)
    response = post(htmx, f"/sessions/{session.id}/seat", {"waitlist": "0"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "You have a seat." in html and "1 / 2 seats taken" in html and "Cancel my seat" in html
    response = post(htmx, f"/sessions/{session.id}/seat/cancel")
    assert "Your seat is released." in response.get_data(as_text=True)


def test_reserving_without_htmx_redirects_back_with_a_message(client, login_as, make_session):
    login_as("member")
    session = make_session(capacity=2)
    response = post(client, f"/sessions/{session.id}/seat", {"waitlist": "0", "next": "/events/1"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/events/1")
    with client.session_transaction() as flask_session:
        assert ("success", "You have a seat.") in flask_session["_flashes"]


def test_a_stale_reserve_on_a_full_session_says_full_and_stores_nothing(htmx, login_as, make_session):
    login_as("member", client=htmx)
    session = make_session(capacity=1, seats_taken=1)
    response = post(htmx, f"/sessions/{session.id}/seat", {"waitlist": "0"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200  # htmx swaps 2xx only: the fresh panel arrives with the reason
    assert '<p class="panel-notice is-error" role="alert">This session is full' in html
    assert "Join the waitlist" in html
    db.session.expire_all()
    assert session.seats_taken == 1


def test_reserving_needs_a_sign_in(client, make_session):
    session = make_session(is_public=True)
    response = post(client, f"/sessions/{session.id}/seat")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# ------------------------------------------------------------------------------------------------ query count
class QueryCounter:
    def __init__(self, engine):
        self.engine = engine
        self.statements: list[str] = []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("PRAGMA", "SAVEPOINT", "RELEASE")):
            self.statements.append(statement)


def test_one_poll_of_the_panel_costs_a_small_fixed_number_of_queries(
    htmx, login_as, make_session, make_user, make_event
):
    member = login_as("member", client=htmx)
    session = make_session(capacity=3, event=make_event())

    seen: list[str] = []

    url = panel_url(session)

    def poll_count() -> int:
        db.session.expire_all()
        # the steady poll: the first after a write may also read the signed-in user (kept per process afterwards,
        # accounts.sessions) and the session's snapshot
        assert htmx.get(url).status_code == 200
        db.session.expire_all()
        with QueryCounter(db.engine) as counter:
            assert htmx.get(url).status_code == 200
        seen[:] = counter.statements
        return len(counter.statements)

    small = poll_count()
    for _ in range(5):  # many more sessions, seats, waitlist places and events
        other = make_session(capacity=2, event=make_event())
        for _ in range(3):
            operations.reserve(other, make_user("member"))
    for _ in range(2):
        operations.reserve(session, make_user("member"))
    for _ in range(4):
        operations.reserve(session, make_user("member"))
    operations.reserve(session, member)
    db.session.commit()
    large = poll_count()
    assert small == large
    # the signed-in user (accounts: 1-2), the session's shared part (waitlist included, no joins), the member's seat
    assert large <= 4, "\n".join(seen)


def test_panels_for_a_whole_page_of_sessions_cost_two_queries(make_session, make_user):
    """The viewer's seats, and the waitlists of the full sessions (only a full session shows its waitlist)."""
    from portal.seats.queries import join_panels

    member = make_user("member")
    sessions = [make_session(capacity=2) for _ in range(12)]
    for session in sessions[:6]:
        operations.reserve(session, make_user("member"))
        operations.reserve(session, member)
        operations.reserve(session, make_user("member"))  # full: this one waits
    db.session.commit()
    for count in (1, 12):
        with QueryCounter(db.engine) as counter:
            panels = join_panels(sessions[:count], member)
        assert len(panels) == count and len(counter.statements) == 2
    assert panels[sessions[0].id].seat_status == "confirmed" and panels[sessions[0].id].waitlist_count == 1
    with QueryCounter(db.engine) as counter:
        panels = join_panels(sessions[6:], member)  # none full: no waitlist to count
    assert len(panels) == 6 and len(counter.statements) == 1


def test_panels_without_the_waitlist_count_skip_it_and_keep_the_rest(app, clock, make_session, make_user, make_seat):
    from portal.seats.queries import join_panels

    session = make_session(capacity=1)
    make_seat(session, make_user("member"))
    make_seat(session, make_user("member"), "waitlisted")
    viewer = make_user("member")
    with app.test_request_context("/"):
        full = join_panels([session], viewer)[session.id]
        lean = join_panels([session], viewer, with_waitlist=False)[session.id]
    assert (full.waitlist_count, lean.waitlist_count) == (1, 0)
    assert (lean.eligibility, lean.seat_action) == (full.eligibility, full.seat_action)
