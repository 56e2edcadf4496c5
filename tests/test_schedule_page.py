"""My schedule: the sessions a person holds seats or waitlist places in, with join panels and calendar files."""

from __future__ import annotations

from datetime import timedelta

from portal.extensions import db
from portal.seats import operations


def test_my_schedule_lists_my_seats_and_waitlist_places_soonest_first(client, login_as, make_session, make_user, clock):
    member = login_as("member")
    later = make_session(title="Kata later", start_in=timedelta(days=3), capacity=5)
    sooner = make_session(title="Kumite sooner", start_in=timedelta(days=1), capacity=1)
    not_mine = make_session(title="Someone else's", capacity=5)
    gone = make_session(title="Canceled one", capacity=5)
    operations.reserve(sooner, make_user("member"))
    operations.reserve(sooner, member)  # waitlisted
    operations.reserve(later, member)  # confirmed
    operations.reserve(not_mine, make_user("member"))
    operations.reserve(gone, member)
    gone.status = "canceled"
    db.session.commit()
    response = client.get("/my/schedule")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.index("Kumite sooner") < html.index("Kata later")
    assert "Someone else&#39;s" not in html and "Canceled one" not in html
    assert "On the waitlist" in html and "Seat confirmed" in html
    assert f'id="join-panel-{later.id}"' in html and f'id="join-panel-{sooner.id}"' in html
    assert f'href="/sessions/{later.id}/calendar.ics"' in html


def test_my_schedule_without_seats_points_to_the_sessions(client, login_as):
    login_as("member")
    assert "You have no seats yet." in client.get("/my/schedule").get_data(as_text=True)


def test_my_schedule_needs_a_sign_in(client):
    response = client.get("/my/schedule")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_calendar_file_of_a_visible_session(client, login_as, make_session):
    login_as("member")
    session = make_session(title="Bo staff basics")
    response = client.get(f"/sessions/{session.id}/calendar.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert f'filename="session-{session.id}.ics"' in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    assert "BEGIN:VCALENDAR" in body and "Bo staff basics" in body
    assert f"http://portal.test/sessions/{session.id}" in body.replace("\r\n ", "")


def test_no_calendar_file_for_an_invisible_session(client, login_as, make_session):
    login_as("public")
    assert client.get(f"/sessions/{make_session(is_public=False).id}/calendar.ics").status_code == 404
