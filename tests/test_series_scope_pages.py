"""Edit and cancel an occurrence of a weekly class from its pages with a scope (this / following / all), and the
standing booking buttons of the session page ("Book the whole series" / "End standing booking", CSRF on)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.seats.models import Seat
from portal.seats.standing_models import StandingBooking
from portal.training import forms
from portal.training.models import TrainingSession
from portal.training.series_models import TrainingSeries
from tests.conftest import csrf_token
from tests.test_series_form import series_form


def post(client, url, data=None, **kwargs):
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(client)}, **kwargs)


def occurrences() -> list[TrainingSession]:
    db.session.expire_all()
    return list(db.session.scalars(select(TrainingSession).order_by(TrainingSession.start_time)))


def the_series() -> TrainingSeries:
    db.session.expire_all()
    return db.session.scalars(select(TrainingSeries)).one()


def edit_form(session: TrainingSession, scope: str, **changes) -> dict[str, str]:
    values = forms.form_values(session, "UTC")
    values.update(changes, scope=scope)
    return {key: str(value) for key, value in values.items()}


@pytest.fixture
def instructor(login_as, clock):
    return login_as("instructor")


@pytest.fixture
def weekly(client, instructor):
    """Six occurrences (Mon and Wed 18:00 Berlin from 2027-03-22), capacity 12, made through the form."""
    assert post(client, "/sessions/new", series_form()).status_code == 302
    return occurrences()


def test_the_edit_form_of_an_occurrence_asks_for_the_scope(client, weekly, make_session, instructor):
    page = client.get(f"/sessions/{weekly[1].id}/edit").get_data(as_text=True)
    assert 'name="scope" value="this" id="f-scope-this" checked' in page
    assert 'value="following"' in page and 'value="all"' in page
    assert "the date changes one session at a time" in page
    assert 'name="repeats"' not in page  # the repeat part belongs to the scheduling form
    plain = make_session(instructor=instructor)
    assert 'name="scope"' not in client.get(f"/sessions/{plain.id}/edit").get_data(as_text=True)


def test_edit_this_changes_one_occurrence_and_keeps_it_its_own(client, weekly):
    second = weekly[1]
    response = post(client, f"/sessions/{second.id}/edit", edit_form(second, "this", title="Kihon (dojo B)"))
    assert response.status_code == 302
    assert [s.title for s in occurrences()] == ["Kihon", "Kihon (dojo B)", "Kihon", "Kihon", "Kihon", "Kihon"]
    assert the_series().overrides == {str(second.id): ["title"]}
    # a later edit of all keeps that occurrence's own title
    first = occurrences()[0]
    assert post(client, f"/sessions/{first.id}/edit", edit_form(first, "all", title="Kihon II")).status_code == 302
    assert [s.title for s in occurrences()] == ["Kihon II", "Kihon (dojo B)", *["Kihon II"] * 4]
    assert the_series().title == "Kihon II"


def test_edit_this_may_move_the_start(client, weekly):
    second = weekly[1]
    data = edit_form(second, "this", start_clock="17:30")
    assert post(client, f"/sessions/{second.id}/edit", data).status_code == 302
    assert [(s.start_time.hour, s.start_time.minute) for s in occurrences()][:3] == [(17, 0), (17, 30), (16, 0)]


def test_edit_following_changes_this_and_later_ones(client, weekly):
    third = weekly[2]
    response = post(client, f"/sessions/{third.id}/edit", edit_form(third, "following", capacity="5"))
    assert response.status_code == 302
    assert [s.capacity for s in occurrences()] == [12, 12, 5, 5, 5, 5]
    assert the_series().capacity == 5
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your changes are saved for 4 sessions of the series." in page


def test_edit_all_changes_every_open_occurrence(client, weekly):
    fourth = weekly[3]
    assert (
        post(client, f"/sessions/{fourth.id}/edit", edit_form(fourth, "all", duration_minutes="90")).status_code == 302
    )
    assert {s.duration_minutes for s in occurrences()} == {90}


def test_following_may_move_the_time_of_day_in_the_series_zone(client, weekly):
    third = weekly[2]  # Mon 29 March 2027, 18:00 in Berlin (16:00 UTC: the clocks went forward on the 28th)
    data = edit_form(third, "following", start_clock="17:15", capacity="5")  # the form is in the viewer's zone, UTC
    response = post(client, f"/sessions/{third.id}/edit", data)
    assert response.status_code == 302
    berlin = ZoneInfo("Europe/Berlin")
    assert [s.start_time.astimezone(berlin).strftime("%d %H:%M") for s in occurrences()] == [
        "22 18:00", "24 18:00", "29 19:15", "31 19:15", "05 19:15", "07 19:15",
    ]  # fmt: skip
    assert [s.capacity for s in occurrences()] == [12, 12, 5, 5, 5, 5]
    assert the_series().first_start.strftime("%H:%M") == "19:15"


def test_following_refuses_a_new_date_and_changes_nothing(client, weekly):
    third = weekly[2]
    data = edit_form(third, "following", start_date="2027-03-30", capacity="5")
    response = post(client, f"/sessions/{third.id}/edit", data)
    assert response.status_code == 422
    assert "The date changes one session at a time" in response.get_data(as_text=True)
    assert {s.capacity for s in occurrences()} == {12} and the_series().capacity == 12
    assert {s.start_time for s in occurrences()} == {s.start_time for s in weekly}


@pytest.mark.parametrize("scope", ["bogus", ""])
def test_a_bad_scope_is_refused_at_its_field(client, weekly, scope):
    third = weekly[2]
    response = post(client, f"/sessions/{third.id}/edit", edit_form(third, scope, capacity="5"))
    assert response.status_code == 422 and "Choose the scope" in response.get_data(as_text=True)
    assert {s.capacity for s in occurrences()} == {12}
    response = post(client, f"/sessions/{third.id}/cancel", {"scope": scope})
    assert response.status_code == 422 and "Choose the scope" in response.get_data(as_text=True)
    assert {s.status for s in occurrences()} == {"scheduled"}


def test_the_cancel_page_asks_for_the_scope(client, weekly):
    page = client.get(f"/sessions/{weekly[2].id}/cancel").get_data(as_text=True)
    assert 'name="scope" value="this" id="f-scope-this" checked' in page and 'value="all"' in page


@pytest.mark.parametrize(
    ("scope", "statuses", "closed"),
    [
        ("this", ["scheduled", "scheduled", "canceled", "scheduled", "scheduled", "scheduled"], False),
        ("following", ["scheduled", "scheduled", "canceled", "canceled", "canceled", "canceled"], False),
        ("all", ["canceled"] * 6, True),
    ],
)
def test_cancel_with_each_scope(client, weekly, scope, statuses, closed):
    third = weekly[2]
    response = post(client, f"/sessions/{third.id}/cancel", {"scope": scope})
    assert response.status_code == 302
    assert [s.status for s in occurrences()] == statuses
    series = the_series()
    assert "2027-03-29T18:00" in series.canceled and len(series.canceled) == statuses.count("canceled")
    assert (series.canceled_at is not None) is closed
    if scope == "following":
        assert str(series.until) == "2027-03-28"
    count = statuses.count("canceled")
    flash = f"{count} session{' is' if count == 1 else 's are'} canceled."
    assert flash in client.get(response.headers["Location"]).get_data(as_text=True)


# ------------------------------------------------------------------------------------------------ standing booking
def seats_of(user) -> list[tuple[int, str]]:
    db.session.expire_all()
    return [
        tuple(row) for row in db.session.execute(select(Seat.session_id, Seat.status).where(Seat.user_id == user.id))
    ]


def test_a_member_books_and_ends_the_whole_series_from_the_page(make_app, weekly, login_as):
    strict = make_app(WTF_CSRF_ENABLED=True).test_client()
    member = login_as("member", client=strict)
    url = f"/sessions/{weekly[1].id}"
    page = strict.get(url).get_data(as_text=True)
    assert "Book the whole series" in page and "End standing booking" not in page
    assert strict.post(f"{url}/standing-booking").status_code == 400  # no CSRF token
    assert seats_of(member) == []
    response = strict.post(f"{url}/standing-booking", data={"csrf_token": csrf_token(strict)})
    assert response.status_code == 303
    assert sorted(seats_of(member)) == sorted((s.id, "confirmed") for s in weekly)
    page = strict.get(url).get_data(as_text=True)
    assert "You booked the whole series: 6 sessions." in page
    assert "End standing booking" in page and "Book the whole series" not in page
    assert strict.post(f"{url}/standing-booking/end").status_code == 400
    response = strict.post(f"{url}/standing-booking/end", data={"csrf_token": csrf_token(strict)})
    assert response.status_code == 303
    assert {status for _, status in seats_of(member)} == {"canceled"}
    assert "6 seats released" in strict.get(url).get_data(as_text=True)
    assert db.session.scalars(select(StandingBooking)).one().ended_at is not None


def test_the_booking_button_is_only_for_those_who_may_reserve(client, weekly, instructor, login_as, make_session):
    url = f"/sessions/{weekly[0].id}"
    assert "Book the whole series" not in client.get(url).get_data(as_text=True)  # its own instructor
    login_as("public")  # the class is for members only
    assert "Book the whole series" not in client.get(url).get_data(as_text=True)
    assert post(client, f"{url}/standing-booking").status_code == 404  # a members-only class is not listed for them
    assert db.session.scalars(select(StandingBooking)).all() == []
    login_as("member")
    plain = make_session()
    assert "Book the whole series" not in client.get(f"/sessions/{plain.id}").get_data(as_text=True)
    assert "Book the whole series" in client.get(url).get_data(as_text=True)


def test_ending_without_a_standing_booking_says_so(client, weekly, login_as):
    login_as("member")
    response = post(client, f"/sessions/{weekly[0].id}/standing-booking/end", follow_redirects=True)
    assert "You have no standing booking for this series." in response.get_data(as_text=True)


def test_signed_out_visitors_are_sent_to_sign_in(app, weekly):
    anonymous = app.test_client()
    response = anonymous.post(f"/sessions/{weekly[0].id}/standing-booking")
    assert response.status_code in (302, 401, 404)
    assert db.session.scalars(select(StandingBooking)).all() == []


def test_a_refused_booking_is_said_on_the_page_and_stores_nothing(client, instructor, login_as):
    listed = series_form(is_public="on", title="Open kihon")
    assert post(client, "/sessions/new", listed).status_code == 302
    first = occurrences()[0]
    login_as("public")  # may see the listed class, but seats are for members
    page = client.get(f"/sessions/{first.id}").get_data(as_text=True)
    assert "Open kihon" in page and "Book the whole series" not in page
    response = post(client, f"/sessions/{first.id}/standing-booking", follow_redirects=True)
    assert response.status_code == 200 and 'class="flash flash-error"' in response.get_data(as_text=True)
    assert db.session.scalars(select(StandingBooking)).all() == [] and db.session.scalars(select(Seat)).all() == []
