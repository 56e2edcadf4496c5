"""Finding sessions (issue 11): the filters of /sessions and GET /api/training/sessions, their paging, the API's
400 for an unknown or malformed query parameter, the page's messages, visibility, and a constant SQL count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portal.core.clock import now_utc
from portal.extensions import db
from portal.training.models import SessionStatus
from portal.training.series_models import TrainingSeries
from tests.test_sql_counts import counted

API = "/api/training/sessions"


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["id"] for item in response.get_json()["items"]]


@pytest.fixture
def catalogue(make_session, make_user, make_event, clock):
    """A small timetable: words, tags, instructors, events, a series, states and times."""
    kim, lee = make_user("instructor", name="Kim Sensei"), make_user("instructor", name="Lee Sensei")
    event = make_event(title="Winter camp")
    now = now_utc()
    s = {
        "kata": make_session(
            title="Heian kata",
            description="Forms for beginners",
            tags=["kata", "beginners"],
            instructor=kim,
            start_time=now + timedelta(days=1),
            is_public=True,
        ),
        "kumite": make_session(
            title="Kumite drills",
            description="Sparring, 50% contact",
            tags=["kumite"],
            instructor=lee,
            start_time=now + timedelta(days=2),
            event=event,
            is_public=True,
        ),
        "kihon": make_session(
            title="Kihon",
            description="Basics: stances_and_blocks",
            tags=["kata-2"],
            instructor=kim,
            start_time=now + timedelta(days=3),
        ),
        "ended": make_session(
            title="Old kata class",
            tags=["kata"],
            instructor=kim,
            start_time=now - timedelta(days=2),
            status=SessionStatus.ENDED.value,
            is_public=True,
        ),
    }
    return {**s, "kim": kim, "lee": lee, "event": event}


# ------------------------------------------------------------------------------------------------ API filters
def test_q_matches_every_word_in_title_or_description_case_insensitively(client, catalogue, api_client):
    api, _ = api_client("member")
    assert _ids(api.get(API, query_string={"q": "KATA"})) == [catalogue["ended"].id, catalogue["kata"].id]
    assert _ids(api.get(API, query_string={"q": "kata beginners"})) == [catalogue["kata"].id]
    assert _ids(api.get(API, query_string={"q": "kata sparring"})) == []
    assert _ids(api.get(API, query_string={"q": "  "})) == _ids(api.get(API))


def test_q_escapes_like_wildcards(api_client, catalogue):
    api, _ = api_client("member")
    assert _ids(api.get(API, query_string={"q": "50%"})) == [catalogue["kumite"].id]
    assert _ids(api.get(API, query_string={"q": "%"})) == [catalogue["kumite"].id]
    assert _ids(api.get(API, query_string={"q": "stances_and"})) == [catalogue["kihon"].id]
    assert _ids(api.get(API, query_string={"q": "s_ances"})) == []


def test_tags_each_must_be_there_and_match_whole(api_client, catalogue):
    api, _ = api_client("member")
    assert _ids(api.get(API, query_string={"tag": "kata"})) == [catalogue["ended"].id, catalogue["kata"].id]
    assert _ids(api.get(API, query_string={"tag": "KATA"})) == [catalogue["ended"].id, catalogue["kata"].id]
    assert _ids(api.get(API + "?tag=kata&tag=beginners")) == [catalogue["kata"].id]
    assert _ids(api.get(API + "?tag=kata&tag=kumite")) == []
    assert _ids(api.get(API, query_string={"tag": "kata-2"})) == [catalogue["kihon"].id]


def test_instructor_event_series_status_and_time_filters(api_client, catalogue, make_session):
    api, _ = api_client("member")
    kim, event = catalogue["kim"], catalogue["event"]
    assert _ids(api.get(API, query_string={"instructor_id": kim.id})) == [
        catalogue["ended"].id,
        catalogue["kata"].id,
        catalogue["kihon"].id,
    ]
    assert _ids(api.get(API, query_string={"event_id": event.id})) == [catalogue["kumite"].id]
    assert _ids(api.get(API, query_string={"status": "ended"})) == [catalogue["ended"].id]
    now = now_utc()
    window = {"from": (now + timedelta(days=1, hours=12)).isoformat(), "to": (now + timedelta(days=3)).isoformat()}
    assert _ids(api.get(API, query_string=window)) == [catalogue["kumite"].id]
    # `from` is inclusive, `to` exclusive; an offset other than UTC means the same moment
    exact = catalogue["kata"].start_time.astimezone(datetime.now(UTC).astimezone().tzinfo).isoformat()
    assert catalogue["kata"].id in _ids(api.get(API, query_string={"from": exact}))
    assert catalogue["kata"].id not in _ids(api.get(API, query_string={"to": exact}))


def test_series_filter(api_client, catalogue, make_session):
    kim = catalogue["kim"]
    series = TrainingSeries(
        instructor_id=kim.id,
        title="Monday kihon",
        duration_minutes=60,
        first_start=datetime(2026, 12, 7, 18, 0),  # noqa: DTZ001 -- local wall-clock, as stored
        time_zone="Europe/Berlin",
        weekdays="MO",
        count=2,
    )
    db.session.add(series)
    db.session.commit()
    one = make_session(title="Monday kihon", instructor=kim, series_id=series.id, start_in=timedelta(days=6))
    two = make_session(title="Monday kihon", instructor=kim, series_id=series.id, start_in=timedelta(days=13))
    api, _ = api_client("member")
    assert _ids(api.get(API, query_string={"series_id": series.id})) == [one.id, two.id]
    assert _ids(api.get(API, query_string={"series_id": series.id + 1})) == []


def test_combined_filters_and_paging(api_client, catalogue, make_session):
    api, _ = api_client("member")
    kim = catalogue["kim"]
    extra = [
        make_session(title=f"Kata {i}", tags=["kata"], instructor=kim, start_in=timedelta(days=10 + i))
        for i in range(5)
    ]
    query = {"q": "kata", "tag": "kata", "instructor_id": kim.id, "status": "scheduled"}
    first = api.get(API, query_string={**query, "limit": 2})
    assert first.get_json()["total"] == 6
    assert _ids(first) == [catalogue["kata"].id, extra[0].id]
    assert _ids(api.get(API, query_string={**query, "limit": 2, "offset": 4})) == [extra[3].id, extra[4].id]


# ------------------------------------------------------------------------------------------------ API 400s
@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("colour=red", ["colour"]),
        ("page=2", ["page"]),
        ("status=nope", ["status"]),
        ("instructor_id=abc", ["instructor_id"]),
        ("series_id=0", ["series_id"]),
        ("from=2026-12-01", ["from"]),  # no offset: not an aware time
        ("from=tomorrow", ["from"]),
        ("to=2026-12-01T10:00:00Z&from=2026-12-02T10:00:00Z", ["to"]),
        ("q=%00", ["q"]),
        ("q=" + "x" * 201, ["q"]),
        ("tag=" + "x" * 31, ["tag"]),
        ("status=ended&status=live", ["status"]),
        ("limit=0&colour=red&offset=-1", ["colour", "limit", "offset"]),
    ],
)
def test_unknown_or_malformed_parameters_are_400_with_fields(client, query, fields):
    response = client.get(f"{API}?{query}")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "malformed"
    assert sorted(error["fields"]) == fields


def test_every_documented_parameter_is_still_accepted(client):
    query = (
        "status=scheduled&instructor_id=1&event_id=1&series_id=1&upcoming=true&include_archived=false&sort_by=title"
        "&sort_order=desc&limit=5&offset=0&q=kata&tag=a&tag=b&from=2026-12-01T00:00:00%2B01:00&to=2026-12-31T00:00:00Z"
    )
    response = client.get(f"{API}?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)


# ------------------------------------------------------------------------------------------------ visibility
def test_members_only_sessions_never_reach_anonymous_callers(client, catalogue):
    for query in ({"q": "kihon"}, {"tag": "kata-2"}, {"instructor_id": catalogue["kim"].id}):
        assert catalogue["kihon"].id not in _ids(client.get(API, query_string=query))
        page = client.get("/sessions", query_string=query).get_data(as_text=True)
        assert "Kihon" not in page
    assert "Heian kata" in client.get("/sessions", query_string={"q": "heian"}).get_data(as_text=True)


# ------------------------------------------------------------------------------------------------ the page
def _titles(html: str, *titles: str) -> list[str]:
    return [title for title in titles if f">{title}</a>" in html]


ALL = ("Heian kata", "Kumite drills", "Kihon", "Old kata class")


def test_page_filters_keep_their_values_and_ignore_empty_fields(client, login_as, catalogue):
    login_as("member")
    html = client.get("/sessions?q=kata&tag=&instructor_id=&event_id=&status=&from=&to=").get_data(as_text=True)
    assert _titles(html, *ALL) == ["Heian kata"]
    assert 'name="q" type="search" maxlength="200" value="kata"' in html
    html = client.get("/sessions", query_string={"tag": "kumite"}).get_data(as_text=True)
    assert _titles(html, *ALL) == ["Kumite drills"]
    assert 'value="kumite"' in html
    html = client.get("/sessions", query_string={"instructor_id": catalogue["kim"].id}).get_data(as_text=True)
    assert _titles(html, *ALL) == ["Heian kata", "Kihon"]
    assert f'value="{catalogue["kim"].id}" selected' in html
    html = client.get("/sessions", query_string={"event_id": catalogue["event"].id}).get_data(as_text=True)
    assert _titles(html, *ALL) == ["Kumite drills"]
    html = client.get("/sessions", query_string={"past": 1, "q": "kata"}).get_data(as_text=True)
    assert _titles(html, *ALL) == ["Old kata class"]
    html = client.get("/sessions", query_string={"status": "scheduled", "tag": "kata, beginners"}).get_data(
        as_text=True
    )
    assert _titles(html, *ALL) == ["Heian kata"]


def test_page_days_are_in_the_viewers_zone(client, login_as, make_session, clock):
    login_as("member", timezone="Pacific/Auckland")  # UTC+13 in December
    # 2026-12-03 11:30 UTC is 04 Dec 00:30 in Auckland: on the 4th there, not the 3rd
    make_session(title="Late one", start_time=datetime(2026, 12, 3, 11, 30, tzinfo=UTC))
    on_third = client.get("/sessions?from=2026-12-03&to=2026-12-03").get_data(as_text=True)
    on_fourth = client.get("/sessions?from=2026-12-04&to=2026-12-04").get_data(as_text=True)
    assert "Late one" not in on_third
    assert "Late one" in on_fourth


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-13-01", "No such date."),
        ("from=yesterday", "Give a date as YYYY-MM-DD."),
        ("to=0001-01-01", "Give a date between"),
        ("to=9999-12-31", "Give a date between"),
        ("from=2026-1-01", "Give a date as YYYY-MM-DD."),
        ("from=2026-12-05&to=2026-12-01", "Give a last day on or after the first day."),
        ("status=sleeping", "Choose a status from the list."),
        ("instructor_id=x", "Choose one from the list."),
        ("tag=" + "x" * 31, "Each tag must be"),
        ("q=%00", "Search for at most"),
    ],
)
def test_page_shows_a_message_for_a_malformed_filter(client, login_as, catalogue, query, message):
    login_as("member")
    response = client.get(f"/sessions?{query}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    assert "Fix the filters above" in html


def test_page_links_keep_the_filters(client, login_as, make_session, catalogue):
    login_as("member")
    for i in range(51):
        make_session(title=f"Paged kata {i}", tags=["paged"], start_in=timedelta(days=20, hours=i))
    html = client.get("/sessions?tag=paged").get_data(as_text=True)
    assert "Paged kata 49" in html and "Paged kata 50" not in html
    assert 'href="/sessions?page=2&amp;tag=paged" rel="next"' in html
    html = client.get("/sessions?tag=paged&page=2").get_data(as_text=True)
    assert "Paged kata 50" in html and "Heian kata" not in html


# ------------------------------------------------------------------------------------------------ SQL counts
FILTERED = [
    ("member", "/sessions?q=kata&tag=kata&status=scheduled&from=2026-11-01&to=2027-12-31"),
    ("member", "/sessions?past=1&q=kata"),
    ("anonymous", "/sessions?q=kata&tag=kata"),
]


@pytest.mark.parametrize(("who", "path"), FILTERED)
def test_filtered_list_asks_a_constant_number_of_statements(
    client, login_as, make_session, make_user, who, path, clock
):
    if who == "member":
        login_as("member")
    teacher = make_user("instructor")

    def add(n: int) -> None:
        for i in range(n):
            make_session(
                title=f"Kata {i}",
                description="kata",
                tags=["kata"],
                instructor=teacher,
                start_in=timedelta(days=1 + i),
                is_public=True,
            )
            make_session(
                title=f"Old kata {i}",
                tags=["kata"],
                instructor=teacher,
                start_in=-timedelta(days=1 + i),
                status=SessionStatus.ENDED.value,
                is_public=True,
            )

    add(3)
    client.get(path)  # warm caches (zones, settings)
    with counted() as few:
        assert client.get(path).status_code == 200
    add(27)
    db.session.expire_all()
    with counted() as many:
        assert client.get(path).status_code == 200
    assert len(many) == len(few), many
