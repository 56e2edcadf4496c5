"""The private calendar feed (SPEC "Calendar feed", issue 11): `GET /calendar/<secret>.ics` holds the sessions a
person has a seat or a waitlist place in and those they teach, 30 days back to 365 ahead, canceled ones as
CANCELLED; ETag and 304; a reset makes the old address 404; never a join token, room or provider link."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from portal.core.clock import now_utc
from portal.extensions import db
from portal.seats import feed, operations
from portal.seats.feed_models import CalendarFeed
from portal.training import operations as training_operations
from portal.training.links import session_url
from tests.conftest import ALL_ROLES, csrf_token, sign_in
from tests.test_sql_counts import counted

BASE_URL = "http://portal.test"


def _url(user) -> str:
    return f"/calendar/{feed.feed_secret(user)}.ics"


def _fetch(client, user):
    url = _url(user)
    db.session.commit()  # the feed row, made on first use (a page request commits it the same way)
    return client.get(url)


def _events(response) -> dict[int, object]:
    """The VEVENTs of a feed response, by session id (from the UID)."""
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    events = {}
    for event in calendar.walk("VEVENT"):
        match = re.fullmatch(r"training-session-(\d+)@portal\.test", str(event["uid"]))
        assert match, event["uid"]
        events[int(match.group(1))] = event
    return events


# --------------------------------------------------------------------------------------------- content
def test_the_feed_holds_seats_waitlist_places_and_taught_sessions_and_nothing_else(
    client, clock, make_user, make_session, make_seat
):
    member = make_user("member", name="Mia Member")
    seat = make_session(title="Kihon", start_in=timedelta(days=2))
    waitlisted = make_session(title="Kata", start_in=timedelta(days=3))
    left = make_session(title="Left it", start_in=timedelta(days=4))
    someone_elses = make_session(title="Not mine", start_in=timedelta(days=5))
    make_seat(seat, member)
    make_seat(waitlisted, member, "waitlisted")
    make_seat(left, member)
    make_seat(someone_elses, make_user("member"))
    operations.cancel_seat(left, member)
    db.session.commit()

    events = _events(_fetch(client, member))
    assert set(events) == {seat.id, waitlisted.id}
    kihon = events[seat.id]
    assert str(kihon["summary"]) == "Kihon"
    assert kihon.decoded("dtstart") == seat.start_time and kihon.decoded("dtend") == seat.end_time
    assert kihon.decoded("dtstart").utcoffset() == timedelta(0)
    assert str(kihon["url"]) == session_url(seat.id, BASE_URL)
    assert str(kihon["status"]) == "CONFIRMED"
    assert kihon.decoded("last-modified") == seat.updated_at
    assert int(kihon["sequence"]) == int(seat.updated_at.timestamp())
    assert "waitlist" in str(events[waitlisted.id]["description"]).lower()
    calendar = Calendar.from_ical(client.get(_url(member)).data)
    assert str(calendar["x-wr-calname"]) == "Training Portal: Mia Member"
    assert str(calendar["version"]) == "2.0"


def test_an_instructor_sees_the_sessions_they_teach_and_the_seats_they_hold(client, make_user, make_session, make_seat):
    instructor = make_user("instructor")
    taught = make_session(instructor=instructor, start_in=timedelta(days=1))
    other_teachers = make_session(start_in=timedelta(days=2))
    make_seat(other_teachers, instructor)
    not_mine = make_session(start_in=timedelta(days=3))
    events = _events(_fetch(client, instructor))
    assert set(events) == {taught.id, other_teachers.id}
    assert "teach" in str(events[taught.id]["description"]).lower()
    assert not_mine.id not in events


def test_a_canceled_session_stays_in_the_feed_as_cancelled_for_its_seats_and_its_instructor(
    client, clock, make_user, make_session, make_seat
):
    instructor, member, early_leaver = make_user("instructor"), make_user("member"), make_user("member")
    session = make_session(instructor=instructor, start_in=timedelta(days=7))
    make_seat(session, member)
    make_seat(session, early_leaver)
    operations.cancel_seat(session, early_leaver)  # left days before the cancel: no longer theirs
    db.session.commit()
    clock.shift(timedelta(days=2))
    training_operations.cancel_session(session, actor=instructor)
    db.session.commit()

    for person in (member, instructor):
        event = _events(_fetch(client, person))[session.id]
        assert str(event["status"]) == "CANCELLED"
    assert session.id not in _events(_fetch(client, early_leaver))


def test_the_window_is_thirty_days_back_to_365_days_ahead(client, clock, make_user, make_session, make_seat):
    member = make_user("member")
    now = now_utc()
    at = {
        "30 days back": now - timedelta(days=30),
        "29 days back": now - timedelta(days=29),
        "now": now,
        "364 days ahead": now + timedelta(days=364),
        "365 days ahead": now + timedelta(days=365),
        "30 days and a second back": now - timedelta(days=30, seconds=1),
        "60 days back": now - timedelta(days=60),
        "365 days and a second ahead": now + timedelta(days=365, seconds=1),
        "400 days ahead": now + timedelta(days=400),
    }
    ids = {}
    for name, when in at.items():
        session = make_session(start_time=when)
        make_seat(session, member)
        ids[name] = session.id
    shown = _events(_fetch(client, member))
    assert {name for name, sid in ids.items() if sid in shown} == {
        "30 days back",
        "29 days back",
        "now",
        "364 days ahead",
        "365 days ahead",
    }
    clock.shift(timedelta(days=2))  # the window moves with time: 29 days back is now 31
    shown = _events(client.get(_url(member)))
    assert {name for name, sid in ids.items() if sid in shown} == {
        "now",
        "364 days ahead",
        "365 days ahead",
        "365 days and a second ahead",
    }


def test_the_feed_never_holds_a_join_token_a_room_or_a_provider_link(client, make_user, make_session, make_seat, app):
    member = make_user("member")
    session = make_session(
        title="Randori",
        room_id="room-4c1d-secret",
        room_status="ready",
        recording_url="https://rtk.example.net/recording/abc?token=xyz",
    )
    make_seat(session, member)
    body = _fetch(client, member).get_data(as_text=True)
    assert "Randori" in body
    unfolded = body.replace("\r\n ", "")
    for forbidden in ("room-4c1d-secret", "rtk.example", "token", "/join", "/room", "jwt", "authToken"):
        assert forbidden.lower() not in unfolded.lower(), forbidden
    links = set(re.findall(r"https?://[^\s\\,;]+", unfolded))
    assert links == {session_url(session.id, BASE_URL)}  # the session page is the only link


def test_each_person_sees_only_their_own_sessions_and_anyone_with_the_address_may_fetch_it(
    client, login_as, make_user, make_session, make_seat
):
    mine, theirs = make_user("member"), make_user("member")
    my_session, their_session = make_session(), make_session()
    make_seat(my_session, mine)
    make_seat(their_session, theirs)
    assert set(_events(_fetch(client, mine))) == {my_session.id}  # anonymous: the secret is the credential
    login_as(theirs)  # signed in as someone else: the address still decides whose feed it is
    assert set(_events(_fetch(client, mine))) == {my_session.id}
    assert set(_events(_fetch(client, theirs))) == {their_session.id}
    assert feed.feed_secret(mine) != feed.feed_secret(theirs)


# --------------------------------------------------------------------------------------------- caching
def test_etag_and_304_and_a_change_gives_a_new_etag(client, clock, make_user, make_session, make_seat):
    member = make_user("member")
    session = make_session()
    make_seat(session, member)
    url = _url(member)
    db.session.commit()
    first = client.get(url)
    etag = first.headers["ETag"]
    assert etag and first.headers["Cache-Control"] == "private, no-cache"
    assert "Set-Cookie" not in first.headers

    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "private, no-cache"
    assert client.get(url).data == first.data  # same data, same bytes (DTSTAMP is the last change)
    assert client.get(url, headers={"If-None-Match": '"something-else"'}).status_code == 200

    clock.shift(timedelta(minutes=5))
    session.set_schedule(session.start_time + timedelta(hours=1), 90)  # rescheduled
    db.session.commit()
    moved = client.get(url, headers={"If-None-Match": etag})
    assert moved.status_code == 200 and moved.headers["ETag"] != etag
    assert _events(moved)[session.id].decoded("dtstart") == session.start_time

    etag = moved.headers["ETag"]
    another = make_session()
    make_seat(another, member, "waitlisted")  # a new place: a new ETag
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 200


# --------------------------------------------------------------------------------------------- the secret
def test_reset_makes_the_old_address_404_and_the_new_one_works(client, login_as, make_session, make_seat):
    member = login_as("member")
    session = make_session()
    make_seat(session, member)
    old = _url(member)
    db.session.commit()
    assert client.get(old).status_code == 200

    response = client.post("/calendar/reset")
    assert response.status_code == 302 and response.headers["Location"].endswith("/my/schedule")
    db.session.expire_all()
    new = _url(member)
    assert new != old
    assert client.get(old).status_code == 404
    assert set(_events(client.get(new))) == {session.id}


def test_the_htmx_reset_answers_the_partial_with_both_links(htmx, login_as):
    member = login_as("member", client=htmx)
    response = htmx.post("/calendar/reset")
    assert response.status_code == 200 and "no-store" in response.headers["Cache-Control"]
    html = response.get_data(as_text=True)
    db.session.expire_all()
    secret = feed.feed_secret(member)
    assert f'href="webcal://portal.test/calendar/{secret}.ics"' in html
    assert f'value="http://portal.test/calendar/{secret}.ics"' in html
    assert 'action="/calendar/reset"' in html and 'name="csrf_token"' in html
    assert "new address" in html


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda s: "A" * len(s), id="unknown"),
        pytest.param(lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"), id="right selector, wrong check"),
        pytest.param(lambda s: s[:-1], id="too short"),
        pytest.param(lambda s: s + "A", id="too long"),
        pytest.param(lambda s: s[:10] + "." + s[11:], id="a dot"),
        pytest.param(lambda s: s.upper(), id="case changed"),
        pytest.param(lambda s: "", id="empty"),
    ],
)
def test_a_wrong_secret_is_a_plain_404(client, make_user, mangle):
    member = make_user("member")
    secret = feed.feed_secret(member)
    db.session.commit()
    wrong = mangle(secret)
    assert wrong != secret
    response = client.get(f"/calendar/{wrong}.ics")
    assert response.status_code == 404
    assert member.name not in response.get_data(as_text=True)


def test_the_address_of_a_deactivated_person_is_404(client, make_user):
    member = make_user("member")
    url = _url(member)
    db.session.commit()
    assert client.get(url).status_code == 200
    member.is_active = False
    db.session.commit()
    assert client.get(url).status_code == 404


def test_the_database_row_alone_does_not_give_the_address_away(make_user):
    member = make_user("member")
    secret = feed.feed_secret(member)
    db.session.commit()
    row = db.session.get(CalendarFeed, member.id)
    assert len(secret) >= 64 and row.selector in secret
    assert secret[len(row.selector) :] not in str(db.session.execute(sa.select(CalendarFeed.__table__)).all())
    assert feed.feed_secret(member) == secret  # the page can show the same address again


def test_the_feed_is_made_once_even_when_asked_twice(make_user):
    member = make_user("member")
    assert feed.feed_secret(member) == feed.feed_secret(member)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CalendarFeed)) == 1


# --------------------------------------------------------------------------------------------- access
def test_the_reset_needs_the_csrf_token(make_app, make_user):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    member = make_user("member")
    with app.app_context():
        sign_in(client, member)
        secret = feed.feed_secret(member)
        db.session.commit()
        response = client.post("/calendar/reset")
        assert response.status_code == 400 and "csrf" in response.get_data(as_text=True).lower()
        db.session.expire_all()
        assert feed.feed_secret(member) == secret
        response = client.post("/calendar/reset", data={"csrf_token": csrf_token(client)})
        assert response.status_code == 302
        db.session.expire_all()
        assert feed.feed_secret(member) != secret


@pytest.mark.parametrize("role", ["anonymous", *ALL_ROLES])
def test_reset_access_matrix(client, login_as, role):
    user = None if role == "anonymous" else login_as(role)
    response = client.post("/calendar/reset")
    if user is None:
        assert response.status_code in (302, 401)
        if response.status_code == 302:
            assert "/login" in response.headers["Location"]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CalendarFeed)) == 0
    else:
        assert response.status_code == 302 and response.headers["Location"].endswith("/my/schedule")
        assert db.session.get(CalendarFeed, user.id) is not None
    assert client.get("/calendar/reset").status_code in (404, 405)


# --------------------------------------------------------------------------------------------- SQL
def test_the_feed_asks_the_same_number_of_statements_for_2_or_40_sessions(client, make_user, make_session, make_seat):
    member, instructor = make_user("member"), make_user("instructor")

    def statements(n: int) -> int:
        for i in range(n):
            make_seat(make_session(start_in=timedelta(days=i + 1)), member)
            make_seat(make_session(instructor=instructor, start_in=timedelta(days=i + 1)), member, "waitlisted")
        url = _url(member)
        db.session.commit()
        db.session.expire_all()
        with counted() as seen:
            assert client.get(url).status_code == 200
        return len(seen)

    small = statements(1)
    assert statements(19) == small
    assert small <= 3  # the feed row with its owner, then the sessions


# --------------------------------------------------------------------------------------------- the page
def test_my_schedule_links_the_feed_as_webcal_with_an_address_to_copy_and_a_reset(client, login_as):
    """Needs `{% include "seats/_calendar_feed.html" %}` in templates/seats/my_schedule.html."""
    member = login_as("member")
    html = client.get("/my/schedule").get_data(as_text=True)
    secret = feed.feed_secret(member)  # made by the page and committed with it
    assert f'href="webcal://portal.test/calendar/{secret}.ics"' in html
    assert f'value="http://portal.test/calendar/{secret}.ics"' in html
    assert 'action="/calendar/reset"' in html
    assert client.get(f"/calendar/{secret}.ics").status_code == 200
    assert client.get("/my/schedule").get_data(as_text=True).count(secret) == 2  # the same address every time
