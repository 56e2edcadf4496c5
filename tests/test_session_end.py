"""The end of a session (SPEC "After the session"): the room page listens for the end (its state URL, the panel,
says so within one poll, whoever ended it), and the ended page `/sessions/<id>/ended` says how it ended, the
recording to come, and the next sessions of its series or else its event, under the session page's view rule."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from flask import Flask

from portal.app import create_app
from portal.core import migrate
from portal.extensions import db
from portal.training import jobs
from portal.training.models import TrainingSession
from portal.training.series_models import TrainingSeries
from tests.conftest import _forget_request_caches
from tests.test_panel import post


@pytest.fixture(scope="module")
def app(base_config) -> Iterator[Flask]:
    """The portal app, for this module."""
    app = create_app(base_config)
    with app.app_context():
        migrate.upgrade()
    app.before_request_funcs.setdefault(None, []).insert(0, _forget_request_caches)
    yield app
    with app.app_context():
        db.engine.dispose()


RECORDING_NOTE = 'The recording will be listed in <a href="/recordings">Recordings</a>'


def ended_url(session) -> str:
    return f"/sessions/{session.id}/ended"


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def make_series(instructor, **fields) -> TrainingSeries:
    series = TrainingSeries(
        instructor_id=instructor.id,
        title="Weekly kata",
        duration_minutes=60,
        first_start=datetime(2026, 12, 1, 18, 0),  # noqa: DTZ001 (the rule's local wall-clock time)
        time_zone="UTC",
        weekdays="TU",
        **fields,
    )
    db.session.add(series)
    db.session.commit()
    return series


@pytest.fixture
def instructor(make_user):
    return make_user("instructor")


# ------------------------------------------------------------------------------------------------ access
ROLES = ("anonymous", "public", "member", "own_instructor", "instructor", "admin")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("is_public", "members_only"), [(True, False), (True, True), (False, True)], ids=["public", "public-mo", "hidden"]
)
def test_the_ended_page_follows_the_session_pages_view_rule(
    client, login_as, make_session, instructor, clock, role, is_public, members_only
):
    session = make_session(
        instructor=instructor,
        start_in=timedelta(hours=-2),
        status="ended",
        end_reason="instructor",
        recording_enabled=True,
        is_public=is_public,
        members_only=members_only,
    )
    if role == "own_instructor":
        login_as(instructor)
    elif role != "anonymous":
        login_as(role)
    page = client.get(ended_url(session))
    detail = client.get(f"/sessions/{session.id}")
    assert page.status_code == detail.status_code
    visible = is_public or role not in ("anonymous", "public")
    assert page.status_code == (200 if visible else 404)
    html = text(page)
    if not visible:
        assert session.title not in html
        # the session page's answer word for word (but for the sign-in link's way back): no hint it exists
        assert html.replace(ended_url(session), f"/sessions/{session.id}") == text(detail)
        return
    assert "This session has ended." in html
    assert '<span class="badge ended">Ended</span>' in html and "Live" not in html
    # the recording is for those who may join: never hinted to anonymous or `public` users on a members-only one
    may_watch = role != "anonymous" and (not members_only or role != "public")
    assert (RECORDING_NOTE in html) is may_watch
    assert "no-store" in page.headers["Cache-Control"]


def test_how_it_ended_is_said_plainly(client, login_as, make_session, clock):
    login_as("member")
    not_started = make_session(start_in=timedelta(hours=-3), status="ended", end_reason="not_started")
    canceled = make_session(start_in=timedelta(hours=-3), status="canceled", recording_enabled=True)
    unrecorded = make_session(start_in=timedelta(hours=-3), status="ended", end_reason="overdue")
    live = make_session(start_in=timedelta(minutes=-20), status="live", recording_enabled=True)
    html = text(client.get(ended_url(not_started)))
    assert "This session did not take place" in html and RECORDING_NOTE not in html
    html = text(client.get(ended_url(canceled)))
    assert "This session was canceled." in html and RECORDING_NOTE not in html
    html = text(client.get(ended_url(unrecorded)))
    assert "This session has ended." in html and RECORDING_NOTE not in html
    # the provider's meeting ended before the portal heard of it: the page does not claim more than it knows
    html = text(client.get(ended_url(live)))
    assert "The meeting has ended." in html and RECORDING_NOTE in html


def test_the_next_sessions_of_the_series_up_to_three_soonest_first(client, login_as, make_session, instructor, clock):
    login_as("member")
    series = make_series(instructor)
    done = make_session(instructor=instructor, start_in=timedelta(hours=-2), status="ended", series_id=series.id)
    later = [
        make_session(instructor=instructor, start_in=timedelta(days=d), series_id=series.id, title=f"Kata {d}")
        for d in (21, 7, 14, 28)
    ]
    make_session(instructor=instructor, start_in=timedelta(days=1), series_id=series.id, status="canceled")
    make_session(instructor=instructor, start_in=timedelta(days=2), title="Not in the series")
    html = text(client.get(ended_url(done)))
    assert "Next in this series" in html
    shown = re.findall(r'<a href="/sessions/(\d+)">Kata (\d+)</a>', html)
    assert shown == [(str(later[1].id), "7"), (str(later[2].id), "14"), (str(later[0].id), "21")]
    assert "Not in the series" not in html


def test_without_a_series_the_next_sessions_of_its_event_the_viewer_may_see(
    client, login_as, make_session, make_event, instructor, clock
):
    event = make_event(title="Winter camp", visibility="public", start_in=timedelta(days=-1), length=timedelta(days=5))
    done = make_session(
        instructor=instructor, event=event, start_in=timedelta(hours=-2), status="ended", is_public=True
    )
    make_session(instructor=instructor, event=event, start_in=timedelta(hours=5), title="Open class", is_public=True)
    make_session(instructor=instructor, event=event, start_in=timedelta(hours=3), title="Members class")
    make_session(instructor=instructor, start_in=timedelta(hours=1), title="Elsewhere", is_public=True)

    anonymous = text(client.get(ended_url(done)))
    assert "Next in Winter camp" in anonymous and 'href="/events/' in anonymous
    assert "Open class" in anonymous and "Members class" not in anonymous and "Elsewhere" not in anonymous

    login_as("member")
    member = text(client.get(ended_url(done)))
    assert member.index("Members class") < member.index("Open class")


def test_a_members_only_event_is_not_named_to_anonymous_visitors(client, make_session, make_event, instructor, clock):
    event = make_event(title="Dojo retreat", visibility="members")
    done = make_session(
        instructor=instructor, event=event, start_in=timedelta(hours=-2), status="ended", is_public=True
    )
    make_session(instructor=instructor, event=event, start_in=timedelta(days=3), title="Next one", is_public=True)
    html = text(client.get(ended_url(done)))
    assert "Dojo retreat" not in html and "Next one" not in html
    assert "What comes next" in html


def test_the_ended_page_of_a_missing_session_is_404(client, login_as):
    login_as("member")
    assert client.get("/sessions/999999/ended").status_code == 404


# ------------------------------------------------------------------------------------------------ the room listens
@pytest.fixture
def live(make_session, instructor, clock):
    return make_session(instructor=instructor, start_in=timedelta(minutes=-2), status="live", capacity=10)


def _state(client, room_html: str, etag: str | None = None):
    url = re.search(r'data-state-url="([^"]+)"', room_html).group(1)
    headers = {"HX-Request": "true", **({"If-None-Match": etag} if etag else {})}
    return client.get(url, headers=headers)


@pytest.mark.parametrize("how", ["instructor", "worker", "provider"])
def test_the_room_page_learns_of_the_end_within_one_poll(app, client, login_as, live, instructor, clock, how):
    login_as("member")
    room = post(client, f"/sessions/{live.id}/join").get_data(as_text=True)
    assert "Development room" in room
    assert f'data-ended-url="/sessions/{live.id}/ended"' in room
    assert 'src="/static/js/join.js"' in room
    first = _state(client, room)
    assert first.status_code == 200 and 'data-reason=""' in first.get_data(as_text=True)
    etag = first.headers["ETag"]
    assert _state(client, room, etag).status_code == 304  # nothing new: an empty answer

    if how == "instructor":
        other = app.test_client()
        login_as(instructor, client=other)
        assert post(other, f"/sessions/{live.id}/end").status_code == 302
    elif how == "worker":
        clock.shift(timedelta(minutes=60 + 31))  # past its end and the auto-end grace
        assert jobs.end_overdue_session(live.id) == "overdue"
    else:
        from portal.training.models import EndReason
        from portal.training.operations import end_session

        session = db.session.get(TrainingSession, live.id)
        end_session(session, actor=None, reason=EndReason.PROVIDER)
        db.session.commit()
    clock.shift(timedelta(seconds=2))  # past the shared snapshot's second, as another process's write would be
    after = _state(client, room, etag)
    assert after.status_code == 200
    assert 'data-reason="ended"' in after.get_data(as_text=True)
    landing = client.get(f"/sessions/{live.id}/ended")
    assert landing.status_code == 200 and "This session has ended." in text(landing)


def test_the_join_script_goes_to_the_ended_page_and_room_rtk_on_the_meetings_end():
    from portal.config import PROJECT_ROOT

    join = (PROJECT_ROOT / "static/js/join.js").read_text()
    assert "data-ended-url" in join and "ROOM_POLL_MS = 4000" in join and "If-None-Match" in join
    rtk = (PROJECT_ROOT / "static/js/room-rtk.js").read_text()
    assert re.search(r'state === "ended" && endedUrl\) window\.location\.assign\(endedUrl\)', rtk)
