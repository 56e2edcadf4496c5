"""No input, however malformed, gets a 5xx (issue 15, defects 2 and 3): each cause the fuzzers found answers
400/422 with the JSON error body, or the form again with its message, and stores nothing. The suite runs on
SQLite and, with PORTAL_TEST_DATABASE_URL, on PostgreSQL (which refuses a NUL in text where SQLite stores it).
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.audit.models import AuditEntry
from portal.core.timezones import is_valid_timezone, parse_local
from portal.core.validation import parse_json, whole_number
from portal.events.models import Event
from portal.extensions import db
from portal.seats.models import Seat
from portal.training import rules
from portal.training.models import TrainingSession
from tests.conftest import NOW, PASSWORD

HUGE = "99999999999999999999"  # beyond any database integer
NOT_A_ZONE = ["Europe", "America", "x" * 300, "Europe/../../etc/passwd", "UTC\x00", "/etc/localtime"]
DEEP = "[" * 100_000


def stored() -> dict[str, int]:
    """Rows per table a refused request could have written."""
    return {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
        for model in (User, TrainingSession, Event, Seat, AuditEntry)
    }


def text(response) -> str:
    return response.get_data(as_text=True)


def raw_json(client, method: str, url: str, body: str):
    """`body` sent as it is: escapes such as \\ud800 reach the server's parser untouched."""
    return client.open(url, method=method, data=body.encode(), content_type="application/json")


def error(response) -> dict:
    return response.get_json()["error"]


def session_json(**overrides):
    body = {"title": "Kata", "start_time": (NOW + timedelta(days=2)).isoformat(), "duration_minutes": 60}
    return {**body, **overrides}


def event_json(**overrides):
    start = NOW + timedelta(days=3)
    body = {"title": "Camp", "start_time": start.isoformat(), "end_time": (start + timedelta(hours=6)).isoformat()}
    return {**body, **overrides}


def session_form(**overrides):
    data = {
        "title": "Heian kata",
        "start_date": "2026-12-10",
        "start_clock": "18:30",
        "timezone": "Europe/Berlin",
        "duration_minutes": "75",
        "capacity": "20",
        "event_id": "",
    }
    return {**data, **overrides}


def event_form(**overrides):
    data = {
        "title": "Winter seminar",
        "location": "Hall 2",
        "visibility": "public",
        "start_date": "2026-12-20",
        "start_clock": "10:00",
        "end_date": "2026-12-20",
        "end_clock": "16:00",
        "timezone": "Europe/Berlin",
    }
    return {**data, **overrides}


# ------------------------------------------------------------------------------------------------ time zones
@pytest.mark.parametrize("cookie", NOT_A_ZONE)
def test_a_tz_cookie_that_names_no_zone_falls_back_to_the_default_on_every_page(client, cookie, make_session):
    session = make_session(is_public=True, members_only=False)
    client.set_cookie("tz", cookie)
    for url, status in (("/", 200), (f"/sessions/{session.id}", 200), ("/no-such-page", 404)):
        response = client.get(url)
        assert response.status_code == status, url
        assert "Times are shown in <strong>UTC</strong>" in text(response)


@pytest.mark.parametrize("zone", NOT_A_ZONE)
def test_a_time_zone_that_names_no_zone_is_refused_by_every_form(clock, client, login_as, zone):
    login_as("admin")
    before = stored()
    session = client.post("/sessions/new", data=session_form(timezone=zone))
    event = client.post("/events/new", data=event_form(timezone=zone))
    signup = client.post(
        "/signup", data={"name": "Kim", "email": "kim@example.org", "password": PASSWORD, "timezone": zone}
    )
    assert (session.status_code, event.status_code, signup.status_code) == (422, 422, 422)
    assert "Choose a valid time zone." in text(session) and "Choose a valid time zone." in text(event)
    assert "Choose a time zone from the list." in text(signup)
    assert stored() == before


@pytest.mark.parametrize("zone", NOT_A_ZONE)
def test_a_profile_time_zone_that_names_no_zone_is_refused(client, login_as, zone):
    user = login_as("member", timezone="Asia/Tokyo")
    response = client.post("/account", data={"name": "Kim", "timezone": zone})
    assert response.status_code == 422 and "Choose a time zone from the list." in text(response)
    db.session.expire_all()
    assert db.session.get(User, user.id).timezone == "Asia/Tokyo"


def test_the_zone_check_answers_for_every_kind_of_name_without_raising():
    assert is_valid_timezone("Europe/Berlin") and is_valid_timezone("UTC")
    for name in [*NOT_A_ZONE, None, "", 42, "\ud800", "Europe/Berlin\n"]:
        assert is_valid_timezone(name) is False, name


# ------------------------------------------------------------------------------------------------ JSON bodies
JSON_ENDPOINTS = [
    ("POST", "/api/auth/token", None),
    ("POST", "/api/training/sessions", "instructor"),
    ("PUT", "/api/training/sessions/{session}", "instructor"),
    ("POST", "/api/events", "board_member"),
    ("PUT", "/api/events/{event}", "board_member"),
    ("POST", "/api/training/sessions/{session}/seat", "member"),
]


@pytest.fixture
def endpoint(request, client, api_client, make_session, make_event):
    """(client, method, url) of one JSON endpoint, with a record to write to and a caller allowed to."""
    method, url, role = request.param
    caller = client
    if role:
        caller, user = api_client(role)
        session = make_session(instructor=user, is_public=True, members_only=False)
        url = url.format(session=session.id, event=make_event(created_by=user).id)
    return caller, method, url


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, indirect=True, ids=[f"{m} {u}" for m, u, _ in JSON_ENDPOINTS])
@pytest.mark.parametrize("body", [DEEP, "[" * 40 + "]" * 40, '{"a":' * 40 + "1" + "}" * 40], ids=["100k", "40", "obj"])
def test_deeply_nested_json_is_refused_with_400_on_every_json_endpoint(clock, endpoint, body):
    client, method, url = endpoint
    before = stored()
    response = raw_json(client, method, url, body)
    assert response.status_code == 400
    assert error(response)["code"] == "malformed" and "nested" in error(response)["message"]
    assert stored() == before


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS, indirect=True, ids=[f"{m} {u}" for m, u, _ in JSON_ENDPOINTS])
@pytest.mark.parametrize("body", ['{"title": NaN}', b'{"title": "\xff"}', '{"title": 1e999999}', '{"a": 1}x'])
def test_json_that_is_not_json_is_refused_with_400_on_every_json_endpoint(clock, endpoint, body):
    client, method, url = endpoint
    before = stored()
    data = body if isinstance(body, bytes) else body.encode()
    response = client.open(url, method=method, data=data, content_type="application/json")
    assert response.status_code == 400 and error(response)["code"] == "malformed"
    assert stored() == before


def test_a_body_beyond_the_cap_is_413_before_it_is_read(clock, app, api_client):
    instructor, _ = api_client("instructor")
    before = stored()
    padding = "x" * app.config["MAX_CONTENT_LENGTH"]
    response = instructor.post("/api/training/sessions", json=session_json(description=padding))
    assert response.status_code == 413 and error(response)["code"] == "too_large"
    assert stored() == before


# ------------------------------------------------------------------------------------------------ text
LONE_SURROGATE = '"\\ud800"'  # JSON's escape for a half of a UTF-16 pair: no UTF-8 can encode it


@pytest.mark.parametrize("field", ["email", "password"])
def test_a_lone_surrogate_in_the_token_credentials_is_400(client, make_user, field):
    make_user(email="api@example.org")
    body = {"email": '"api@example.org"', "password": json.dumps(PASSWORD), field: LONE_SURROGATE}
    response = raw_json(
        client, "POST", "/api/auth/token", "{" + ", ".join(f'"{k}": {v}' for k, v in body.items()) + "}"
    )
    assert response.status_code == 400 and error(response)["code"] == "malformed"
    assert "surrogate" in error(response)["message"] and field in error(response)["message"]


def test_a_lone_surrogate_in_a_title_is_400_and_stores_nothing(clock, api_client):
    instructor, _ = api_client("instructor")
    board, _ = api_client("board_member")
    before = stored()
    session = raw_json(
        instructor, "POST", "/api/training/sessions", json.dumps(session_json())[:-1] + ', "title": "a\\udfffb"}'
    )
    event = raw_json(board, "POST", "/api/events", '{"title": ' + LONE_SURROGATE + ', "tags": []}')
    tags = raw_json(
        instructor, "POST", "/api/training/sessions", json.dumps(session_json())[:-1] + ', "tags": ["\\ud800"]}'
    )
    for response in (session, event, tags):
        assert response.status_code == 400 and "surrogate" in error(response)["message"]
    assert stored() == before


def test_the_rules_refuse_a_lone_surrogate_or_a_nul_whoever_calls_them(make_user):
    from portal.accounts.rules import validate_account
    from portal.events.rules import validate_event

    assert set(validate_account("a\ud800@example.org", "N\ud800", "pass\ud800word12", "UTC")) == {
        "email",
        "name",
        "password",
    }
    assert set(validate_account("a@example.org", "N\x00", PASSWORD, "UTC")) == {"name"}
    assert rules.check_title("Kata\ud800")[1] and rules.check_description("x\udc00")[1]
    assert rules.check_tags(["kata\ud800"])[1]
    assert set(validate_event(event_json(title="C\ud800", location="\x00"))[1]) == {"title", "location"}


# ------------------------------------------------------------------------------------------------ NUL bytes
def test_a_nul_in_the_sign_in_email_is_a_failed_sign_in(client, make_user):
    make_user(email="kim@example.org")
    response = client.post("/login", data={"email": "kim@example.org\x00", "password": PASSWORD})
    assert response.status_code == 401 and "do not match" in text(response) and 'name="email"' in text(response)


def test_a_nul_in_the_token_email_is_400(client, make_user):
    make_user(email="kim@example.org")
    response = client.post("/api/auth/token", json={"email": "kim@example.org\x00", "password": PASSWORD})
    assert (
        response.status_code == 400 and error(response)["code"] == "malformed" and "NUL" in error(response)["message"]
    )


def test_a_nul_in_a_user_name_is_refused_by_the_forms(client, login_as):
    before = stored()
    signup = client.post(
        "/signup", data={"name": "Kim\x00", "email": "kim@example.org", "password": PASSWORD, "timezone": "UTC"}
    )
    assert signup.status_code == 422 and "The name contains a character that is not allowed." in text(signup)
    assert stored() == before
    user = login_as("member", name="Kim")
    profile = client.post("/account", data={"name": "Kim\x00", "timezone": "UTC"})
    assert profile.status_code == 422 and "The name contains a character that is not allowed." in text(profile)
    db.session.expire_all()
    assert db.session.get(User, user.id).name == "Kim"


def test_a_nul_in_the_users_search_is_400(client, login_as):
    login_as("admin")
    response = client.get("/admin/users?q=ki%00m")
    assert response.status_code == 400 and "not allowed" in text(response)


@pytest.mark.parametrize(
    "query", ["entity_type=user%00", "action=user.role%00", "entity_id=1%00", f"entity_id={HUGE}", f"page={HUGE}"]
)
def test_a_nul_or_a_huge_number_in_an_audit_filter_is_400(client, login_as, query):
    login_as("admin")
    response = client.get(f"/admin/audit?{query}")
    assert response.status_code == 400 and "Request not accepted" in text(response)


# ------------------------------------------------------------------------------------------------ numbers
@pytest.mark.parametrize(
    "query",
    [
        f"offset={HUGE}",
        f"limit={HUGE}",
        f"instructor_id={HUGE}",
        "offset=²",
        "offset=١٢",
        "offset=1_0",
        "offset= 1",
        "offset=" + "9" * 5000,
    ],
)
def test_an_out_of_range_or_non_ascii_list_parameter_is_400_for_anyone(client, query):
    response = client.get(f"/api/training/sessions?{query}")
    assert response.status_code == 400 and error(response)["code"] == "malformed"


@pytest.mark.parametrize("action", ["role", "active"])
def test_an_admin_change_to_a_user_id_beyond_the_database_is_404(client, login_as, action):
    login_as("admin")
    before = stored()
    response = client.post(f"/admin/users/{HUGE}/{action}", data={"role": "member", "is_active": "false"})
    assert response.status_code == 404 and "User not found." in text(response)
    assert stored() == before


@pytest.mark.parametrize("number", ["²", "١٢", "1_0", "6 0", HUGE + "0" * 4400, "-60", "0x3c"])
def test_a_number_a_form_cannot_read_gets_its_message(clock, client, login_as, number):
    login_as("board_member")
    before = stored()
    response = client.post(
        "/sessions/new",
        data=session_form(duration_minutes=number, capacity=number, event_id=number, instructor_id=number),
    )
    page = text(response)
    assert response.status_code == 422
    assert "Give the duration in whole minutes." in page
    assert "Give the capacity as a whole number, or leave it empty for no limit." in page
    assert "Choose an event from the list." in page and "Choose an instructor from the list." in page
    assert stored() == before


def test_whole_numbers_are_plain_ascii_digits():
    assert [whole_number(t) for t in ("0", "60", "007", "9" * 18)] == [0, 60, 7, int("9" * 18)]
    for text_ in ("", "²", "١٢", "1_0", " 1", "1 ", "-1", "+1", "9" * 19, "1.0", "0x1"):
        assert whole_number(text_) is None, text_


# ------------------------------------------------------------------------------------------------ dates
@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00Z"])
def test_a_time_beyond_the_calendar_is_422_with_its_message(clock, api_client, when):
    instructor, _ = api_client("instructor")
    board, _ = api_client("board_member")
    before = stored()
    session = instructor.post("/api/training/sessions", json=session_json(start_time=when))
    event = board.post("/api/events", json=event_json(start_time=when))
    end = board.post("/api/events", json=event_json(end_time=when))
    assert (session.status_code, event.status_code, end.status_code) == (422, 422, 422)
    assert "between the years" in error(session)["fields"]["start_time"]
    assert "between the years" in error(event)["fields"]["start_time"]
    assert "between the years" in error(end)["fields"]["end_time"]
    assert stored() == before


@pytest.mark.parametrize(("day", "zone"), [("0001-01-01", "Asia/Tokyo"), ("9999-12-31", "America/New_York")])
def test_a_form_date_beyond_the_calendar_in_its_zone_gets_its_message(clock, client, login_as, day, zone):
    login_as("board_member")
    before = stored()
    session = client.post("/sessions/new", data=session_form(start_date=day, timezone=zone))
    event = client.post("/events/new", data=event_form(start_date=day, end_date=day, timezone=zone))
    assert (session.status_code, event.status_code) == (422, 422)
    assert "between the years" in text(session) and "between the years" in text(event)
    assert stored() == before


def test_reading_a_local_time_never_overflows():
    for day, zone in (
        ("0001-01-01", "Asia/Tokyo"),
        ("9999-12-31", "Pacific/Kiritimati"),
        ("9999-12-31", "America/Adak"),
    ):
        with pytest.raises(ValueError, match="between the years"):
            parse_local(day, "00:00", zone)


# ------------------------------------------------------------------------------------------------ events
@pytest.mark.parametrize("visibility", [[], {}, ["public"], None, 1, "PUBLIC"])
def test_an_event_visibility_that_is_no_choice_is_422(clock, api_client, make_event, visibility):
    board, user = api_client("board_member")
    event = make_event(created_by=user, visibility="members")
    before = stored()
    created = board.post("/api/events", json=event_json(visibility=visibility))
    updated = board.put(f"/api/events/{event.id}", json={"visibility": visibility})
    for response in (created, updated):
        assert response.status_code == 422 and "Visibility is either" in error(response)["fields"]["visibility"]
    assert stored() == before
    db.session.expire_all()
    assert db.session.get(Event, event.id).visibility == "members"


# ------------------------------------------------------------------------------------------------ tags
def test_eighty_thousand_tags_are_refused_at_once(clock, api_client):
    instructor, _ = api_client("instructor")
    before = stored()
    started = time.process_time()
    response = instructor.post("/api/training/sessions", json=session_json(tags=[f"tag{i}" for i in range(80_000)]))
    spent = time.process_time() - started
    assert response.status_code == 422 and error(response)["fields"] == {"tags": "Use at most 10 tags."}
    assert spent < 2, f"{spent:.1f} s of CPU for a refusal"
    assert stored() == before


def test_the_tag_count_is_checked_before_any_tag_is_read():
    class Untouchable(list):
        def __iter__(self):
            raise AssertionError("a tag was read before the count was checked")

        def __getitem__(self, index):
            raise AssertionError("a tag was read before the count was checked")

    assert rules.check_tags(Untouchable(["t"] * (rules.TAGS_LIST_MAX + 1))) == (None, "Use at most 10 tags.")


def test_a_hundred_thousand_words_in_the_tags_field_are_refused_at_once(clock, client, login_as):
    login_as("instructor")
    started = time.process_time()
    response = client.post("/sessions/new", data=session_form(tags=",".join(f"t{i}" for i in range(100_000))))
    assert response.status_code == 422 and "Use at most 10 tags." in text(response)
    assert time.process_time() - started < 2


# ------------------------------------------------------------------------------------------------ the JSON reader
def test_the_json_reader_names_what_is_wrong():
    assert parse_json(b'{"a": [1, "x"]}') == ({"a": [1, "x"]}, None)
    assert "nested" in parse_json(DEEP.encode())[1]
    assert "NUL" in parse_json(b'{"a": {"b": ["\\u0000"]}}')[1]
    assert "a.b[0]" in parse_json(b'{"a": {"b": ["\\u0000"]}}')[1]
    assert "surrogate" in parse_json(b'{"\\ud800": 1}')[1]
    assert parse_json(b"\xff")[1] and parse_json(b"NaN")[1] and parse_json(b"")[1]


# ------------------------------------------------------------------------------------------------ fuzz
NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "\u2028",
    "\r\n",
    "Europe",
    "America",
    "x" * 300,
    "²",
    "١٢",
    HUGE,
    "-1",
    "1e999",
    "NaN",
    "0001-01-01",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2026-02-30T25:61:00Z",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%00",
    "../../etc/passwd",
    "🥋" * 100,
]
# JSON carries any code point, lone surrogates too (as \ud800); a form or a URL only what UTF-8 encodes (a browser
# sends U+FFFD for the rest), so the form fuzz draws from that.
nasty_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=40),  # surrogates and controls included
)
form_text = st.one_of(
    st.sampled_from([s for s in NASTY if s.isascii() or s.encode("utf-8", "ignore").decode() == s]),
    st.text(st.characters(codec="utf-8"), max_size=40),
)
json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), nasty_text),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(nasty_text, inner, max_size=3),
    max_leaves=8,
)
# Bounded and repeatable: the same examples every run (derandomize), none stored between runs (database=None).
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SESSION_FIELDS = sorted(rules.WRITABLE_FIELDS)
EVENT_FIELDS = ["title", "description", "start_time", "end_time", "location", "visibility"]


def _no_server_error(response) -> None:
    assert response.status_code < 500, text(response)[:500]
    if response.status_code >= 400 and response.is_json:
        assert set(error(response)) >= {"code", "message"}


# Each fuzz test signs its caller in once (a fixture), not once per example: hashing passwords would be the cost.
@pytest.fixture
def board_client(client, login_as):
    login_as("board_member")
    return client


@pytest.fixture
def admin_client(client, login_as):
    login_as("admin")
    return client


@pytest.fixture
def instructor_api(api_client):
    return api_client("instructor")[0]


@pytest.fixture
def board_api(api_client):
    return api_client("board_member")[0]


@FUZZ
@given(body=st.dictionaries(st.sampled_from(SESSION_FIELDS), json_value, max_size=6))
def test_fuzzed_session_bodies_never_get_a_5xx(clock, instructor_api, body):
    _no_server_error(raw_json(instructor_api, "POST", "/api/training/sessions", json.dumps(body)))


@FUZZ
@given(body=st.dictionaries(st.sampled_from(EVENT_FIELDS), json_value, max_size=6))
def test_fuzzed_event_bodies_never_get_a_5xx(clock, board_api, body):
    _no_server_error(raw_json(board_api, "POST", "/api/events", json.dumps(body)))


@FUZZ
@given(body=st.dictionaries(st.sampled_from(["email", "password", "other"]), json_value, max_size=3))
def test_fuzzed_token_requests_never_get_a_5xx(client, body):
    _no_server_error(raw_json(client, "POST", "/api/auth/token", json.dumps(body)))


@FUZZ
@given(name=st.sampled_from(["offset", "limit", "status", "sort_by", "instructor_id", "upcoming"]), value=form_text)
def test_fuzzed_list_parameters_never_get_a_5xx(client, name, value):
    _no_server_error(client.get("/api/training/sessions", query_string={name: value}))


@FUZZ
@given(field=st.sampled_from([*sorted(session_form()), "tags", "instructor_id"]), value=form_text)
def test_fuzzed_session_forms_never_get_a_5xx(clock, board_client, field, value):
    _no_server_error(board_client.post("/sessions/new", data=session_form(**{field: value})))


@FUZZ
@given(field=st.sampled_from(sorted(event_form())), value=form_text)
def test_fuzzed_event_forms_never_get_a_5xx(clock, board_client, field, value):
    _no_server_error(board_client.post("/events/new", data=event_form(**{field: value})))


@settings(FUZZ, max_examples=20)  # each sign-in spends a password hash's time, on purpose
@given(form=st.fixed_dictionaries(dict.fromkeys(("email", "password", "name", "timezone"), form_text)))
def test_fuzzed_account_forms_never_get_a_5xx(app, form):
    client = app.test_client()  # a new visitor each time: a sign-up that works signs its client in
    _no_server_error(client.post("/login", data=form))
    _no_server_error(client.post("/signup", data=form))
    client.set_cookie("tz", quote(form["timezone"], safe=""))  # as portal.js stores it
    _no_server_error(client.get("/signup"))


@FUZZ
@given(query=st.dictionaries(st.sampled_from(["q", "entity_type", "entity_id", "action", "page"]), form_text))
def test_fuzzed_admin_filters_never_get_a_5xx(admin_client, query):
    _no_server_error(admin_client.get("/admin/users", query_string={"q": query.get("q", "")}))
    _no_server_error(admin_client.get("/admin/audit", query_string=query))
