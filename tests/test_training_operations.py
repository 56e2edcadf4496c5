"""The seed's service cases (US-044 "Comprehensive Tests"), as behaviour of portal.training.operations."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEntry
from portal.core.clock import now_utc
from portal.core.errors import Conflict, Forbidden, NotFound, ServiceUnavailable, ValidationFailed
from portal.core.queue import get_queue
from portal.extensions import db
from portal.notifications import operations as notification_operations
from portal.seats.models import Seat, SeatStatus
from portal.training import operations, queries, rooms, rules
from portal.training.models import RoomStatus, TrainingSession
from portal.video.local import LocalProvider
from portal.video.models import LocalRoom
from portal.video.port import ProviderError
from tests.conftest import NOW


class FailingProvider(LocalProvider):
    """The local provider whose every call fails the way a provider outage does."""

    def __init__(self, retryable: bool = True):
        self.retryable = retryable

    def create_room(self, **kwargs):
        raise ProviderError("provider down (503)", retryable=self.retryable, status=503)

    def deactivate_room(self, room_id, *, is_live=False):
        raise ProviderError("provider down (503)", retryable=self.retryable, status=503)

    def start_recording(self, room_id):
        raise ProviderError("provider down (503)", retryable=self.retryable, status=503)


@pytest.fixture
def provider_down(app, monkeypatch):
    monkeypatch.setitem(app.extensions, "portal.video", FailingProvider())


def payload(**overrides):
    body = {"title": "Kata basics", "start_time": (now_utc() + timedelta(days=2)).isoformat(), "duration_minutes": 60}
    body.update(overrides)
    return body


def audit_actions(session_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.entity_type == "training_session", AuditEntry.entity_id == session_id)
            .order_by(AuditEntry.id)
        )
    )


# ------------------------------------------------------------------------------------------------ create
def test_create_session_stores_every_field_and_defaults(clock, make_user, redis_conn):
    instructor = make_user("instructor")
    session = operations.create_session(
        payload(description="Heian shodan", capacity=12, tags=["Kata", "kata", "Dan"], recording_enabled=True),
        actor=instructor,
    )
    db.session.commit()
    stored = db.session.get(TrainingSession, session.id)
    assert (stored.title, stored.description, stored.capacity, stored.tags) == (
        "Kata basics",
        "Heian shodan",
        12,
        ["kata", "dan"],
    )
    assert stored.instructor_id == instructor.id and stored.status == "scheduled"
    assert stored.end_time - stored.start_time == timedelta(minutes=60)
    assert (stored.chat_enabled, stored.is_public, stored.members_only, stored.recording_enabled) == (
        True,
        False,
        True,
        True,
    )
    assert stored.room_status == RoomStatus.PENDING
    assert [job.id for job in get_queue().jobs] == [f"provision-{session.id}-0"]
    assert audit_actions(session.id) == ["session.create"]


def test_a_new_sessions_room_job_is_the_one_the_sweep_would_queue_so_it_is_never_queued_twice(
    clock, make_user, redis_conn
):
    session = operations.create_session(
        payload(start_time=(now_utc() + timedelta(minutes=30)).isoformat()), actor=make_user("instructor")
    )
    db.session.commit()
    assert rooms.sweep_rooms() == 0  # same job id, unique: the sweep adds nothing
    queued = get_queue().jobs
    assert [job.id for job in queued] == [f"provision-{session.id}-0"]
    assert queued[0].timeout == rooms.PROVISION_TIMEOUT


@pytest.mark.parametrize("missing", ["title", "start_time", "duration_minutes"])
def test_create_session_without_a_required_field_is_refused_and_stores_nothing(clock, make_user, missing):
    body = payload()
    del body[missing]
    with pytest.raises(ValidationFailed) as exc:
        operations.create_session(body, actor=make_user("instructor"))
    assert exc.value.fields == {missing: rules.REQUIRED_FIELDS[missing]}
    db.session.rollback()
    assert db.session.scalar(select(TrainingSession)) is None


def test_create_session_in_the_past_is_refused(clock, make_user):
    with pytest.raises(ValidationFailed) as exc:
        operations.create_session(
            payload(start_time=(NOW - timedelta(minutes=1)).isoformat()), actor=make_user("instructor")
        )
    assert exc.value.fields["start_time"] == "The start must be in the future."


def test_create_session_exactly_now_is_refused_but_one_second_later_is_accepted(clock, make_user):
    instructor = make_user("instructor")
    with pytest.raises(ValidationFailed):
        operations.create_session(payload(start_time=NOW.isoformat()), actor=instructor)
    assert operations.create_session(payload(start_time=(NOW + timedelta(seconds=1)).isoformat()), actor=instructor)


def test_create_session_more_than_a_year_ahead_is_refused(clock, make_user):
    instructor = make_user("instructor")
    assert operations.create_session(payload(start_time=(NOW + timedelta(days=365)).isoformat()), actor=instructor)
    with pytest.raises(ValidationFailed) as exc:
        operations.create_session(
            payload(start_time=(NOW + timedelta(days=365, seconds=1)).isoformat()), actor=instructor
        )
    assert "365 days" in exc.value.fields["start_time"]


@pytest.mark.parametrize(("minutes", "ok"), [(14, False), (15, True), (480, True), (481, False), (0, False)])
def test_create_session_duration_must_be_15_to_480_minutes(clock, make_user, minutes, ok):
    instructor = make_user("instructor")
    if ok:
        session = operations.create_session(payload(duration_minutes=minutes), actor=instructor)
        assert session.duration_minutes == minutes
    else:
        with pytest.raises(ValidationFailed) as exc:
            operations.create_session(payload(duration_minutes=minutes), actor=instructor)
        assert exc.value.fields == {"duration_minutes": "The duration must be between 15 and 480 minutes."}


@pytest.mark.parametrize(
    ("capacity", "ok"),
    [(None, True), (1, True), (1000, True), (0, False), (1001, False), (-3, False), ("ten", False), (2.5, False)],
)
def test_create_session_capacity_is_empty_or_1_to_1000(clock, make_user, capacity, ok):
    instructor = make_user("instructor")
    if ok:
        assert operations.create_session(payload(capacity=capacity), actor=instructor).capacity == capacity
    else:
        with pytest.raises(ValidationFailed) as exc:
            operations.create_session(payload(capacity=capacity), actor=instructor)
        assert set(exc.value.fields) == {"capacity"}


def test_create_session_linked_to_an_event(clock, make_user, make_event):
    event = make_event()
    session = operations.create_session(payload(event_id=event.id), actor=make_user("instructor"))
    db.session.commit()
    assert db.session.get(TrainingSession, session.id).event.title == event.title


def test_create_session_for_an_unknown_event_says_event_not_found(clock, make_user):
    with pytest.raises(ValidationFailed) as exc:
        operations.create_session(payload(event_id=999_999), actor=make_user("instructor"))
    assert exc.value.fields == {"event_id": "event not found"}


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ([f"t{i}" for i in range(11)], "Use at most 10 tags."),
        (["x" * 31], "Each tag must be 1 to 30 characters."),
        ([" "], "Each tag must be 1 to 30 characters."),
        ("kata", "Tags must be a list of words."),
    ],
)
def test_create_session_tags_are_checked(clock, make_user, tags, message):
    with pytest.raises(ValidationFailed) as exc:
        operations.create_session(payload(tags=tags), actor=make_user("instructor"))
    assert exc.value.fields == {"tags": message}


def test_eleven_tags_that_deduplicate_to_ten_are_accepted(clock, make_user):
    tags = [f"t{i}" for i in range(10)] + ["T0"]
    session = operations.create_session(payload(tags=tags), actor=make_user("instructor"))
    assert session.tags == [f"t{i}" for i in range(10)]


@pytest.mark.parametrize(("title", "ok"), [("  x  ", True), ("a" * 200, True), ("a" * 201, False), ("   ", False)])
def test_create_session_title_is_1_to_200_characters_after_trimming(clock, make_user, title, ok):
    instructor = make_user("instructor")
    if ok:
        assert operations.create_session(payload(title=title), actor=instructor).title == title.strip()
    else:
        with pytest.raises(ValidationFailed) as exc:
            operations.create_session(payload(title=title), actor=instructor)
        assert set(exc.value.fields) == {"title"}


def test_create_session_description_over_5000_characters_is_refused(clock, make_user):
    with pytest.raises(ValidationFailed) as exc:
        operations.create_session(payload(description="d" * 5001), actor=make_user("instructor"))
    assert set(exc.value.fields) == {"description"}


def test_every_invalid_field_is_reported_at_once(clock, make_user):
    with pytest.raises(ValidationFailed) as exc:
        operations.create_session(
            {"title": "", "start_time": "2026-12-05T10:00:00", "duration_minutes": 5, "capacity": 0, "room_id": "x"},
            actor=make_user("instructor"),
        )
    assert set(exc.value.fields) == {"title", "start_time", "duration_minutes", "capacity", "room_id"}
    assert "time zone" in exc.value.fields["start_time"]


def test_a_provider_outage_never_fails_scheduling_and_the_room_is_retried(clock, make_user, provider_down):

    session = operations.create_session(payload(), actor=make_user("instructor"))
    db.session.commit()
    with contextlib.suppress(ServiceUnavailable):  # the job may report the failure; the room is retried either way
        rooms.provision_room(session.id)
    db.session.rollback()
    stored = db.session.get(TrainingSession, session.id)
    assert stored.status == "scheduled"
    assert stored.room_status == RoomStatus.FAILED and "provider down" in stored.room_error


def test_members_and_public_users_cannot_schedule(clock, make_user):
    for role in ("public", "member"):
        with pytest.raises(Forbidden):
            operations.create_session(payload(), actor=make_user(role))


def test_only_board_members_and_admins_name_another_instructor(clock, make_user):
    other = make_user("instructor")
    with pytest.raises(Forbidden):
        operations.create_session(payload(instructor_id=other.id), actor=make_user("instructor"))
    session = operations.create_session(payload(instructor_id=other.id), actor=make_user("board_member"))
    assert session.instructor_id == other.id


def test_the_named_instructor_must_be_an_active_instructor(clock, make_user):
    member = make_user("member")
    with pytest.raises(ValidationFailed) as exc:
        operations.create_session(payload(instructor_id=member.id), actor=make_user("admin"))
    assert exc.value.fields == {"instructor_id": "Choose an active instructor."}


# ------------------------------------------------------------------------------------------------ get
def test_get_session_returns_it(make_session, make_user):
    session = make_session(title="Randori")
    assert queries.get_visible(session.id, make_user("member")).title == "Randori"


def test_get_unknown_session_is_not_found(make_user):
    with pytest.raises(NotFound):
        queries.get_visible(424242, make_user("member"))


# ------------------------------------------------------------------------------------------------ update
def test_update_session_changes_fields_and_audits_the_diff(clock, make_session):
    session = make_session(capacity=10)
    operations.update_session(session, {"title": "New title", "capacity": 20}, actor=session.instructor)
    db.session.commit()
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "session.update"))
    assert entry.changes["capacity"] == [10, 20] and entry.changes["title"][1] == "New title"
    assert entry.actor_id == session.instructor_id


def test_rescheduling_moves_the_end_and_tells_seat_holders(clock, make_session, monkeypatch):
    told = []
    monkeypatch.setattr(notification_operations, "notify_rescheduled", lambda s, old: told.append((s.id, old)))
    session = make_session(start_in=timedelta(days=1))
    old = session.start_time
    new_start = old + timedelta(hours=2)
    operations.update_session(session, {"start_time": new_start.isoformat()}, actor=session.instructor)
    assert session.end_time == new_start + timedelta(minutes=60)
    assert told == [(session.id, old)]


@pytest.mark.parametrize("status", ["ended", "canceled"])
def test_a_final_session_cannot_be_updated(make_session, status):
    session = make_session(status=status)
    with pytest.raises(Conflict):
        operations.update_session(session, {"title": "x"}, actor=session.instructor)


def test_update_with_invalid_duration_is_refused(make_session):
    session = make_session()
    with pytest.raises(ValidationFailed) as exc:
        operations.update_session(session, {"duration_minutes": 500}, actor=session.instructor)
    assert set(exc.value.fields) == {"duration_minutes"}


def test_capacity_cannot_go_below_the_seats_taken(make_session, make_user):
    session = make_session(capacity=5)
    for _ in range(3):
        db.session.add(
            Seat(
                session_id=session.id,
                user_id=make_user("member").id,
                status=SeatStatus.CONFIRMED,
                confirmed_at=now_utc(),
            )
        )
    session.seats_taken = 3
    db.session.commit()
    with pytest.raises(ValidationFailed) as exc:
        operations.update_session(session, {"capacity": 2}, actor=session.instructor)
    assert "3 seats are already taken" in exc.value.fields["capacity"]
    operations.update_session(session, {"capacity": 3}, actor=session.instructor)
    assert session.capacity == 3


def test_an_unchanged_start_in_the_past_does_not_block_an_edit(clock, make_session):
    session = make_session(start_in=timedelta(minutes=5))
    clock.shift(timedelta(minutes=10))
    operations.update_session(
        session, {"title": "Still fine", "start_time": session.start_time.isoformat()}, actor=session.instructor
    )
    assert session.title == "Still fine"


def test_a_live_session_cannot_be_rescheduled(clock, make_session):
    session = make_session(status="live")
    with pytest.raises(ValidationFailed) as exc:
        operations.update_session(
            session, {"start_time": (NOW + timedelta(days=3)).isoformat()}, actor=session.instructor
        )
    assert "live" in exc.value.fields["start_time"]


def test_another_instructor_cannot_edit_but_a_board_member_can(make_session, make_user):
    session = make_session()
    with pytest.raises(Forbidden):
        operations.update_session(session, {"title": "Mine now"}, actor=make_user("instructor"))
    operations.update_session(session, {"title": "Board edit"}, actor=make_user("board_member"))
    assert session.title == "Board edit"


# ------------------------------------------------------------------------------------------------ cancel (delete)
def test_cancel_releases_seats_closes_the_room_and_keeps_the_row(make_session, make_user):
    from portal.training import rooms

    session = make_session(capacity=4)
    rooms.ensure_room(session)
    seat = Seat(
        session_id=session.id, user_id=make_user("member").id, status=SeatStatus.CONFIRMED, confirmed_at=now_utc()
    )
    db.session.add(seat)
    session.seats_taken = 1
    db.session.commit()
    operations.cancel_session(session, actor=session.instructor)
    db.session.commit()
    stored = db.session.get(TrainingSession, session.id)
    assert stored.status == "canceled" and stored.seats_taken == 0
    assert stored.room_status == RoomStatus.INACTIVE
    assert db.session.get(LocalRoom, stored.room_id).is_active is False
    assert db.session.get(Seat, seat.id).status == "canceled"
    assert audit_actions(session.id) == ["session.cancel"]


def test_cancel_a_session_without_a_room(make_session):
    session = make_session()
    operations.cancel_session(session, actor=session.instructor)
    assert session.status == "canceled" and session.room_id is None


def test_cancel_goes_through_when_the_provider_is_down(make_session, app, monkeypatch):
    from portal.training import rooms

    session = make_session()
    rooms.ensure_room(session)
    db.session.commit()
    monkeypatch.setitem(app.extensions, "portal.video", FailingProvider())
    operations.cancel_session(session, actor=session.instructor)
    db.session.commit()
    stored = db.session.get(TrainingSession, session.id)
    assert stored.status == "canceled"
    assert stored.room_status == RoomStatus.READY  # left for the cleanup job to close


@pytest.mark.parametrize("status", ["live", "ended", "canceled"])
def test_only_a_scheduled_session_can_be_canceled(make_session, status):
    session = make_session(status=status)
    with pytest.raises(Conflict):
        operations.cancel_session(session, actor=session.instructor)


# ------------------------------------------------------------------------------------------------ list / upcoming
def test_list_sessions_pages_and_counts(clock, make_session, make_user):
    for hours in (3, 1, 2):
        make_session(start_in=timedelta(hours=hours))
    page = queries.list_sessions(make_user("member"), queries.SessionFilters(), limit=2, offset=0, now=NOW)
    assert page.total == 3 and len(page.items) == 2
    assert page.items[0].start_time < page.items[1].start_time


def test_list_sessions_filters_by_status_instructor_and_event(clock, make_session, make_user, make_event):
    teacher, event = make_user("instructor"), make_event()
    wanted = make_session(instructor=teacher, event=event)
    make_session(instructor=teacher)
    make_session(event=event, status="canceled")
    filters = queries.SessionFilters(status="scheduled", instructor_id=teacher.id, event_id=event.id)
    page = queries.list_sessions(make_user("member"), filters, limit=20, offset=0, now=NOW)
    assert [s.id for s in page.items] == [wanted.id]


def test_upcoming_lists_only_sessions_still_to_come(clock, make_session, make_user):
    soon = make_session(start_in=timedelta(hours=1))
    make_session(start_in=timedelta(hours=-3))
    make_session(start_in=timedelta(hours=2), status="canceled")
    later = make_session(start_in=timedelta(days=2))
    assert [s.id for s in queries.upcoming(make_user("member"), now=NOW)] == [soon.id, later.id]


def test_upcoming_filtered_by_instructor(clock, make_session, make_user):
    teacher = make_user("instructor")
    mine = make_session(instructor=teacher)
    make_session()
    assert [s.id for s in queries.upcoming(make_user("member"), now=NOW, instructor_id=teacher.id)] == [mine.id]


def test_anonymous_and_public_users_see_only_public_sessions(clock, make_session, make_user):
    from flask_login import AnonymousUserMixin

    public = make_session(is_public=True)
    make_session(is_public=False)
    for viewer in (AnonymousUserMixin(), make_user("public")):
        assert [s.id for s in queries.upcoming(viewer, now=NOW)] == [public.id]
    assert len(queries.upcoming(make_user("member"), now=NOW)) == 2


# ------------------------------------------------------------------------------------------------ start
def test_start_session_goes_live_with_a_room_and_recording(make_session):
    session = make_session(recording_enabled=True, start_in=timedelta(minutes=5))
    operations.start_session(session, actor=session.instructor)
    db.session.commit()
    stored = db.session.get(TrainingSession, session.id)
    assert stored.status == "live" and stored.started_at is not None
    assert stored.room_status == RoomStatus.READY and stored.room_id
    assert stored.recording_status == "recording" and stored.recording_id
    assert audit_actions(session.id) == ["session.start"]


@pytest.mark.parametrize("role", ["instructor", "board_member", "admin"])
def test_only_the_sessions_own_instructor_can_start_it(make_session, make_user, role):
    session = make_session()
    with pytest.raises(Forbidden):
        operations.start_session(session, actor=make_user(role))


@pytest.mark.parametrize("status", ["live", "ended", "canceled"])
def test_start_needs_a_scheduled_session(make_session, status):
    session = make_session(status=status)
    with pytest.raises(Conflict):
        operations.start_session(session, actor=session.instructor)


def test_start_without_a_room_fails_clearly_when_the_provider_is_down(make_session, provider_down):
    session = make_session(start_in=timedelta(minutes=5))
    with pytest.raises(ServiceUnavailable) as exc:
        operations.start_session(session, actor=session.instructor)
    assert exc.value.code == "room_unavailable"
    assert session.status == "scheduled" and session.room_status == RoomStatus.FAILED


# ------------------------------------------------------------------------------------------------ end
def test_end_session_closes_room_attendance_and_recording(make_session):
    session = make_session(recording_enabled=True, start_in=timedelta(minutes=5))
    operations.start_session(session, actor=session.instructor)
    operations.end_session(session, actor=session.instructor)
    db.session.commit()
    stored = db.session.get(TrainingSession, session.id)
    assert stored.status == "ended" and stored.end_reason == "instructor" and stored.ended_at
    assert stored.room_status == RoomStatus.INACTIVE
    assert stored.recording_status == "failed"  # the local provider records nothing real, and says so
    assert audit_actions(session.id) == ["session.start", "session.end"]


@pytest.mark.parametrize("role", ["instructor", "board_member", "admin"])
def test_only_the_sessions_own_instructor_can_end_it(make_session, make_user, role):
    session = make_session(status="live")
    with pytest.raises(Forbidden):
        operations.end_session(session, actor=make_user(role))


@pytest.mark.parametrize("status", ["scheduled", "ended", "canceled"])
def test_end_needs_a_live_session(make_session, status):
    session = make_session(status=status)
    with pytest.raises(Conflict):
        operations.end_session(session, actor=session.instructor)


def test_the_worker_ends_a_session_that_never_started(make_session):
    session = make_session(start_in=timedelta(hours=-3))
    operations.end_session(session, actor=None, reason="not_started")
    db.session.commit()
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "session.end"))
    assert session.status == "ended" and session.end_reason == "not_started"
    assert entry.actor_id is None and entry.changes["end_reason"] == "not_started"


def test_the_worker_ends_an_overdue_live_session_but_not_a_scheduled_one_as_overdue(make_session):
    live, scheduled = make_session(status="live"), make_session()
    operations.end_session(live, actor=None, reason="overdue")
    assert live.end_reason == "overdue"
    with pytest.raises(Conflict):
        operations.end_session(scheduled, actor=None, reason="overdue")


def test_ending_goes_through_when_the_provider_is_down(make_session, app, monkeypatch):
    session = make_session(start_in=timedelta(minutes=5))
    operations.start_session(session, actor=session.instructor)
    db.session.commit()
    monkeypatch.setitem(app.extensions, "portal.video", FailingProvider())
    operations.end_session(session, actor=session.instructor)
    db.session.commit()
    assert db.session.get(TrainingSession, session.id).status == "ended"


def test_raising_the_capacity_promotes_the_waitlist_in_order(make_session, make_user):
    from portal.seats import operations as seats

    session = make_session(capacity=1)
    members = [make_user("member") for _ in range(3)]
    for member in members:
        seats.reserve(session, member)
    db.session.commit()
    operations.update_session(session, {"capacity": 2}, actor=session.instructor)
    db.session.commit()
    statuses = {seat.user_id: seat.status for seat in db.session.scalars(select(Seat))}
    assert [statuses[m.id] for m in members] == ["confirmed", "confirmed", "waitlisted"]
    assert db.session.get(TrainingSession, session.id).seats_taken == 2
    operations.update_session(session, {"capacity": None}, actor=session.instructor)
    db.session.commit()
    assert db.session.scalar(select(Seat).where(Seat.user_id == members[2].id)).status == "confirmed"
