"""Eligibility: the one function that decides whether a person may join a session now (SPEC "Joining")."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from flask_login import AnonymousUserMixin

from portal.core.clock import now_utc
from portal.seats.models import SeatStatus
from portal.seats.operations import refusal_error
from portal.seats.rules import (
    GIVING_UP,
    JOINING,
    MESSAGES,
    RESERVING,
    Attempt,
    Reason,
    SeatAction,
    eligibility,
    explain,
    first_refusal,
    poll_seconds,
    reserve_refusal,
    seat_action,
)

WINDOW = timedelta(minutes=10)


def check(session, person, seat_status=None, window=WINDOW):
    return eligibility(session, person, seat_status=seat_status, now=now_utc(), window=window)


@pytest.fixture
def anonymous():
    return AnonymousUserMixin()


def test_a_missing_session_is_not_found(make_user, clock):
    result = check(None, make_user("member"))
    assert (result.can_join, result.reason, result.poll_seconds) == (False, "not_found", None)


def test_anonymous_and_public_users_do_not_see_a_non_public_session(make_session, make_user, anonymous, clock):
    session = make_session(start_in=timedelta(minutes=5), is_public=False, members_only=False)
    assert check(session, anonymous).reason == Reason.NOT_FOUND
    assert check(session, make_user("public")).reason == Reason.NOT_FOUND
    assert check(session, make_user("member")).can_join


def test_a_canceled_session_says_canceled_even_to_anonymous_visitors(make_session, anonymous, clock):
    session = make_session(start_in=timedelta(minutes=5), is_public=True, status="canceled")
    result = check(session, anonymous)
    assert (result.can_join, result.reason, result.poll_seconds) == (False, "canceled", None)
    assert result.message == "This session was canceled."


def test_an_ended_session_says_ended(make_session, make_user, clock):
    session = make_session(start_in=timedelta(minutes=-90), status="ended")
    result = check(session, make_user("member"))
    assert (result.reason, result.poll_seconds) == ("ended", None)


def test_anonymous_visitors_of_a_public_session_must_sign_in(make_session, anonymous, clock):
    session = make_session(start_in=timedelta(minutes=5), is_public=True, members_only=False)
    result = check(session, anonymous)
    assert (result.can_join, result.reason) == (False, "login_required")
    assert result.poll_seconds == 2  # still polling: it may start or be canceled


def test_members_only_refuses_public_users_but_not_members(make_session, make_user, clock):
    session = make_session(start_in=timedelta(minutes=5), is_public=True, members_only=True)
    assert check(session, make_user("public")).reason == Reason.MEMBERS_ONLY
    assert check(session, make_user("member")).can_join


def test_public_users_may_join_public_sessions_that_are_not_members_only(make_session, make_user, clock):
    session = make_session(start_in=timedelta(minutes=5), is_public=True, members_only=False)
    result = check(session, make_user("public"))
    assert result.can_join and result.needs_seat and result.is_waiting


@pytest.mark.parametrize(
    ("before_start", "can_join", "seconds"),
    [
        (timedelta(minutes=10, seconds=1), False, 1),
        (timedelta(minutes=10, seconds=60), False, 60),
        (timedelta(minutes=10), True, 0),
        (timedelta(minutes=9, seconds=59), True, 0),
    ],
)
def test_the_window_opens_exactly_ten_minutes_before_the_start(
    make_session, make_user, clock, before_start, can_join, seconds
):
    session = make_session(start_time=clock.now() + timedelta(hours=2))
    member = make_user("member")
    clock.at(session.start_time - before_start)
    result = check(session, member)
    assert result.can_join is can_join
    assert result.seconds_until_open == seconds
    assert result.opens_at == session.start_time - WINDOW
    if not can_join:
        assert result.reason == "too_early"
        assert result.message.startswith("Joining opens in")


def test_moving_the_clock_from_ten_minutes_and_one_second_to_ten_minutes_opens_the_window(
    make_session, make_user, clock
):
    session = make_session(start_time=clock.now() + timedelta(hours=1))
    member = make_user("member")
    clock.at(session.start_time - timedelta(minutes=10, seconds=1))
    assert check(session, member).reason == "too_early"
    clock.shift(timedelta(seconds=1))
    assert check(session, member).can_join


def test_the_window_length_is_a_setting(make_session, make_user, clock):
    session = make_session(start_in=timedelta(minutes=7))
    member = make_user("member")
    assert check(session, member).can_join
    assert check(session, member, window=timedelta(minutes=5)).reason == "too_early"


def test_a_full_session_refuses_people_without_a_seat(make_session, make_user, clock):
    session = make_session(start_in=timedelta(minutes=5), capacity=2, seats_taken=2)
    member = make_user("member")
    result = check(session, member)
    assert (result.reason, result.seats_taken, result.capacity) == ("full", 2, 2)
    assert check(session, member, SeatStatus.WAITLISTED.value).reason == "full"
    holder = check(session, member, SeatStatus.CONFIRMED.value)
    assert holder.can_join and holder.holds_seat and not holder.needs_seat


def test_too_early_is_checked_before_full(make_session, make_user, clock):
    session = make_session(start_in=timedelta(hours=1), capacity=1, seats_taken=1)
    assert check(session, make_user("member")).reason == "too_early"


def test_members_only_is_checked_before_too_early(make_session, make_user, clock):
    session = make_session(start_in=timedelta(hours=1), is_public=True, members_only=True)
    assert check(session, make_user("public")).reason == "members_only"


@pytest.mark.parametrize("who", ["own_instructor", "admin"])
def test_the_instructor_and_admins_pass_the_window_and_the_seat_check(make_session, make_user, clock, who):
    instructor = make_user("instructor")
    session = make_session(instructor=instructor, start_in=timedelta(days=2), capacity=1, seats_taken=1)
    person = instructor if who == "own_instructor" else make_user("admin")
    result = check(session, person)
    assert result.can_join and result.is_host and not result.needs_seat and result.is_waiting


@pytest.mark.parametrize("role", ["instructor", "board_member"])
def test_other_instructors_and_board_members_wait_for_the_window_like_members(make_session, make_user, clock, role):
    session = make_session(start_in=timedelta(days=2))
    result = check(session, make_user(role))
    assert (result.reason, result.is_host) == ("too_early", False)


def test_a_scheduled_session_inside_the_window_waits_for_the_instructor(make_session, make_user, clock):
    session = make_session(start_in=timedelta(minutes=3))
    result = check(session, make_user("member"))
    assert result.can_join and result.is_waiting
    assert result.message == "Waiting for the instructor to start."


def test_a_live_session_is_joinable_and_not_waiting(make_session, make_user, clock):
    session = make_session(start_in=timedelta(minutes=-5), status="live")
    result = check(session, make_user("member"))
    assert result.can_join and not result.is_waiting


def test_the_eligibility_serialises_to_json(make_session, make_user, clock):
    session = make_session(start_in=timedelta(hours=1), capacity=10)
    data = json.loads(json.dumps(check(session, make_user("member")).to_json()))
    assert data["reason"] == "too_early"
    assert data["opens_at"] == (session.start_time - WINDOW).isoformat()
    assert data["seconds_until_open"] == 50 * 60
    assert (data["seats_taken"], data["capacity"], data["poll_seconds"]) == (0, 10, 60)


@pytest.mark.parametrize(
    ("to_window", "expected"),
    [
        (timedelta(hours=3), 60),
        (timedelta(minutes=15, seconds=1), 60),
        (timedelta(minutes=15), 10),
        (timedelta(minutes=1, seconds=1), 10),
        (timedelta(minutes=1), 2),
        (timedelta(seconds=1), 2),
        (timedelta(0), 2),
        (timedelta(minutes=-8), 2),
    ],
)
def test_the_poll_interval_follows_the_distance_to_the_window(clock, to_window, expected):
    now = clock.now()
    assert poll_seconds("scheduled", now + to_window, now) == expected


def test_polling_stops_for_final_sessions_and_slows_while_live(clock):
    now = clock.now()
    assert poll_seconds("ended", now, now) is None
    assert poll_seconds("canceled", now, now) is None
    assert poll_seconds("live", now - timedelta(minutes=20), now) == 10


# ------------------------------------------------------------------------------------------------ one ladder
@pytest.mark.parametrize(
    ("fields", "who", "reason"),
    [
        ({"is_public": False}, "anonymous", Reason.NOT_FOUND),
        ({"is_public": False}, "public", Reason.NOT_FOUND),
        ({"is_public": True, "status": "canceled"}, "anonymous", Reason.CANCELED),
        ({"status": "canceled"}, "member", Reason.CANCELED),
        ({"status": "ended"}, "member", Reason.ENDED),
        ({"is_public": True, "members_only": False}, "anonymous", Reason.LOGIN_REQUIRED),
        ({"is_public": True, "members_only": True}, "public", Reason.MEMBERS_ONLY),
    ],
)
def test_reserving_and_joining_refuse_with_the_same_reason_for_the_same_state(
    make_session, make_user, anonymous, clock, fields, who, reason
):
    """Checks 1-4 of SPEC "Joining" are one list of checks that both ladders start with."""
    session = make_session(start_in=timedelta(minutes=5), **fields)
    person = anonymous if who == "anonymous" else make_user(who)
    joining = check(session, person)
    assert (joining.reason, reserve_refusal(session, person)) == (reason, reason)
    assert seat_action(session, person, seat_status=None) is None
    if reason != Reason.NOT_FOUND:
        assert joining.message == explain(reason) == MESSAGES[reason]


def test_the_ladders_share_checks_one_to_four_in_spec_order():
    assert JOINING[:5] == RESERVING[:5]
    assert len(JOINING) == 7 and len(RESERVING) == 7  # 1-4 (visible, canceled, ended, signed in, members only) + 2


def test_reserving_adds_seats_are_for_members_and_hosts_need_no_seat(make_session, make_user, clock):
    instructor = make_user("instructor")
    session = make_session(instructor=instructor, is_public=True, members_only=False, capacity=1, seats_taken=1)
    assert reserve_refusal(session, make_user("public")) == Reason.MEMBERS_REQUIRED
    assert check(session, make_user("public")).reason == Reason.TOO_EARLY  # joining asks no member role here
    assert reserve_refusal(session, instructor) == Reason.SEAT_NOT_NEEDED
    assert reserve_refusal(session, make_user("admin")) == Reason.SEAT_NOT_NEEDED
    assert reserve_refusal(session, make_user("member")) is None  # full: the waitlist is still open to them
    assert seat_action(session, make_user("member"), seat_status=None) == SeatAction.WAITLIST


def test_giving_up_needs_a_session_whose_seats_still_change_and_a_place(make_session, make_user, clock):
    member = make_user("member")
    ended = make_session(status="ended")
    assert first_refusal(GIVING_UP, Attempt(ended, member, SeatStatus.CONFIRMED)) == Reason.WRONG_STATE
    assert explain(Reason.WRONG_STATE, Attempt(ended, member)) == (
        "This session is ended; its seats can no longer change."
    )
    open_session = make_session()
    for status in (None, SeatStatus.CANCELED):
        assert first_refusal(GIVING_UP, Attempt(open_session, member, status)) == Reason.NO_SEAT
    for status in (SeatStatus.CONFIRMED, SeatStatus.WAITLISTED):
        assert first_refusal(GIVING_UP, Attempt(open_session, member, status)) is None


def test_a_too_early_message_names_the_time_to_go():
    assert explain(Reason.TOO_EARLY, Attempt(None, None, seconds_until_open=125)) == "Joining opens in 2 min 05 s."


STATUS_OF_REASON = {
    Reason.NOT_FOUND: 404,
    Reason.LOGIN_REQUIRED: 401,
    Reason.MEMBERS_ONLY: 403,
    Reason.MEMBERS_REQUIRED: 403,
}


@pytest.mark.parametrize("reason", list(Reason))
def test_every_reason_has_one_message_and_one_http_status(reason):
    error = refusal_error(reason)
    assert (error.status, error.code) == (STATUS_OF_REASON.get(reason, 409), reason.value)
    assert error.message == explain(reason) and error.message
