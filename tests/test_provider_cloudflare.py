"""The video operations with the cloudflare provider, against the fake RealtimeKit server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.core.clock import now_utc
from portal.core.errors import ServiceUnavailable
from portal.extensions import db
from portal.training import rooms
from portal.video import get_provider
from portal.video.cloudflare.provider import CloudflareProvider
from portal.video.models import VideoParticipant


@pytest.fixture
def session(cloudflare_app, make_session):
    return make_session(start_in=timedelta(minutes=5), recording_enabled=True)


def test_the_cloudflare_setting_gives_the_cloudflare_provider(cloudflare_app):
    assert isinstance(get_provider(), CloudflareProvider)


def test_ensure_room_creates_one_meeting_and_stores_its_id(session, fake_rtk):
    room_id = rooms.ensure_room(session)
    assert session.room_id == room_id and session.room_status == "ready"
    assert fake_rtk.meetings[room_id]["title"].startswith(session.title)
    assert rooms.ensure_room(session) == room_id
    assert len(fake_rtk.meetings) == 1


def test_a_failed_create_is_recorded_and_the_next_attempt_finds_the_meeting_it_made(session, fake_rtk):
    # the provider created the meeting but every answer failed: the session records the failure
    fake_rtk.fail_next(1, status=500, path_contains="/meetings", method="POST", act=True)
    fake_rtk.fail_next(10, status=500, path_contains="/meetings", method="GET")
    with pytest.raises(ServiceUnavailable) as caught:
        rooms.ensure_room(session)
    assert caught.value.code == "room_unavailable"
    assert session.room_status == "failed" and "HTTP 500" in session.room_error
    fake_rtk.faults.clear()
    room_id = rooms.ensure_room(session)  # the sweep's retry
    assert len(fake_rtk.meetings) == 1 and room_id in fake_rtk.meetings
    assert session.room_status == "ready" and session.room_error is None


def test_the_instructor_gets_the_host_preset_and_members_the_learner_preset(session, fake_rtk, make_user):
    rooms.ensure_room(session)
    host = rooms.issue_join_grant(session, session.instructor)
    member = make_user("member")
    learner = rooms.issue_join_grant(session, member)
    people = fake_rtk.participants[session.room_id]
    assert people[host.participant_id]["preset_name"] == "group_call_host" and host.is_host
    assert people[learner.participant_id]["preset_name"] == "group_call_participant" and not learner.is_host
    assert people[learner.participant_id]["custom_participant_id"] == str(member.id)
    assert member.email not in str(fake_rtk.calls("POST", "/participants"))
    assert host.token != learner.token and host.provider == "cloudflare"


def test_a_second_join_refreshes_the_token_instead_of_adding_the_person_again(session, fake_rtk, make_user):
    rooms.ensure_room(session)
    member = make_user("member")
    first = rooms.issue_join_grant(session, member)
    db.session.commit()
    second = rooms.issue_join_grant(session, member)
    assert second.participant_id == first.participant_id and second.token != first.token
    assert len(fake_rtk.participants[session.room_id]) == 1
    assert len(fake_rtk.calls("POST", "/token")) == 1
    assert db.session.scalar(select(func.count()).select_from(VideoParticipant)) == 1


def test_a_participant_the_provider_forgot_is_added_afresh(session, fake_rtk, make_user):
    rooms.ensure_room(session)
    member = make_user("member")
    first = rooms.issue_join_grant(session, member)
    db.session.commit()
    fake_rtk.participants[session.room_id].clear()
    second = rooms.issue_join_grant(session, member)
    db.session.commit()
    assert second.participant_id != first.participant_id
    stored = db.session.scalars(select(VideoParticipant)).all()
    assert [p.participant_id for p in stored] == [second.participant_id]


def test_a_provider_outage_during_join_is_a_clear_503_and_stores_no_participant(session, fake_rtk, make_user):
    rooms.ensure_room(session)
    fake_rtk.fail_next(20, status=503, path_contains="/participants")
    with pytest.raises(ServiceUnavailable) as caught:
        rooms.issue_join_grant(session, make_user("member"))
    assert caught.value.code == "room_unreachable" and "not reachable" in caught.value.message
    assert db.session.scalar(select(func.count()).select_from(VideoParticipant)) == 0


def test_a_rejected_preset_is_not_retried(session, fake_rtk, make_user):
    rooms.ensure_room(session)
    fake_rtk.presets.remove("group_call_participant")
    with pytest.raises(ServiceUnavailable):
        rooms.issue_join_grant(session, make_user("member"))
    assert len(fake_rtk.calls("POST", "/participants")) == 1


def test_recording_starts_once_and_stops_into_uploading(session, fake_rtk):
    rooms.ensure_room(session)
    rooms.start_recording(session)
    assert session.recording_status == "recording" and session.recording_id in fake_rtk.recordings
    rooms.start_recording(session)
    assert len(fake_rtk.recordings) == 1
    rooms.stop_recording(session)
    assert session.recording_status == "uploading"
    assert fake_rtk.recordings[session.recording_id]["status"] == "UPLOADING"
    assert rooms.recording_link(session, session.instructor) is None


def test_a_recording_is_not_started_when_recording_is_off(cloudflare_app, make_session, fake_rtk):
    session = make_session(start_in=timedelta(minutes=5), recording_enabled=False)
    rooms.ensure_room(session)
    rooms.start_recording(session)
    assert session.recording_id is None and fake_rtk.recordings == {}


def test_a_recording_start_outage_is_a_503_and_marks_the_recording_failed(session, fake_rtk):
    rooms.ensure_room(session)
    fake_rtk.fail_next(20, status=500, path_contains="/recordings")
    with pytest.raises(ServiceUnavailable):
        rooms.start_recording(session)
    assert session.recording_status == "failed"


def test_deactivating_a_started_room_ends_the_meeting_for_everyone_first(session, fake_rtk):
    rooms.ensure_room(session)
    session.status, session.started_at = "live", now_utc()
    fake_rtk.start_live(session.room_id)
    rooms.deactivate_room(session)
    assert [c.path.rsplit("/", 1)[-1] for c in fake_rtk.requests[-2:]] == ["kick-all", session.room_id]
    assert fake_rtk.meetings[session.room_id]["status"] == "INACTIVE"
    assert session.room_status == "inactive" and session.room_id not in fake_rtk.live


def test_deactivating_a_room_that_never_started_does_not_kick(session, fake_rtk):
    rooms.ensure_room(session)
    rooms.deactivate_room(session)
    assert fake_rtk.calls("POST", "kick-all") == []
    assert fake_rtk.meetings[session.room_id]["status"] == "INACTIVE"


def test_deactivating_during_an_outage_is_a_503_and_leaves_the_room_for_the_cleanup(session, fake_rtk):
    rooms.ensure_room(session)
    fake_rtk.fail_next(20, status=502, method="PATCH")
    with pytest.raises(ServiceUnavailable):
        rooms.deactivate_room(session)
    assert session.room_status == "ready"


def test_a_room_the_provider_no_longer_knows_counts_as_closed(session, fake_rtk):
    rooms.ensure_room(session)
    fake_rtk.meetings.clear()
    rooms.deactivate_room(session)
    assert session.room_status == "inactive"


def test_an_inactive_room_refuses_new_tokens(session, fake_rtk, make_user):
    rooms.ensure_room(session)
    member = make_user("member")
    rooms.issue_join_grant(session, member)
    fake_rtk.meetings[session.room_id]["status"] = "INACTIVE"
    with pytest.raises(ServiceUnavailable):
        rooms.issue_join_grant(session, member)
