"""A session's instructors (issue 12; SPEC "Starting, the window and a live session", last bullet): a lead and up
to 3 assistants. Any of them edits, starts and ends the session and sees its attendance; only the lead, board
members and admins hand it over to another lead (a substitute); board members and admins see every attendance.
Every role against every action, in the API and in the pages; the validation of assistants; the handover's audit
entry and its one lead_changed signal; "My sessions" with the sessions one assists."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.accounts.models import User
from portal.audit.models import AuditEntry
from portal.core.clock import now_utc
from portal.extensions import db
from portal.training import signals
from portal.training.models import SessionAssistant, TrainingSession
from tests.conftest import csrf_token
from tests.test_openapi import Contract

WHO = ["lead", "assistant", "other_instructor", "board_member", "admin", "member", "anonymous"]


def stored(session_id: int) -> TrainingSession:
    db.session.expire_all()
    return db.session.get(TrainingSession, session_id)


def assistant_rows(session_id: int) -> list[int]:
    return sorted(
        db.session.scalars(sa.select(SessionAssistant.user_id).where(SessionAssistant.session_id == session_id))
    )


def add_assistants(session: TrainingSession, *users) -> None:
    db.session.add_all(SessionAssistant(session_id=session.id, user_id=user.id) for user in users)
    db.session.commit()
    db.session.expire(session, ["assistants"])


def person(role: str, name: str, *, is_active: bool = True) -> User:
    """A user without a password (no hashing: these tests sign in by session or token and have many cases)."""
    user = User(
        email=f"{name.lower().replace(' ', '.')}@example.org",
        name=name,
        role=role,
        is_active=is_active,
        password_hash="!unusable",
    )
    db.session.add(user)
    db.session.commit()
    return user


@pytest.fixture
def people():
    """One of each: the session's lead and assistant, another instructor, board, admin, member (anonymous: None)."""
    return {
        "lead": person("instructor", "Lena Lead"),
        "assistant": person("instructor", "Asa Assistant"),
        "other_instructor": person("instructor", "Otto Other"),
        "board_member": person("board_member", "Bo Board"),
        "admin": person("admin", "Ada Admin"),
        "member": person("member", "Mia Member"),
        "anonymous": None,
    }


@pytest.fixture
def session_of(make_session, people, clock):
    """session_of(**fields): a members-only session led by `lead` with `assistant`, 5 minutes ahead (inside the
    start period), unless told otherwise."""

    def factory(**fields):
        fields.setdefault("start_in", timedelta(minutes=5))
        session = make_session(instructor=people["lead"], **fields)
        add_assistants(session, people["assistant"])
        return session

    return factory


def api_caller(client, api_client, people, who):
    return client if people[who] is None else api_client(people[who])[0]


def page_caller(client, login_as, people, who):
    if people[who] is not None:
        login_as(people[who])
    return client


# ------------------------------------------------------------------------------------------------ the API, role by role
# expected status for: lead, assistant, other instructor, board member, admin, member, anonymous
API_EXPECTED = {
    "edit": (200, 200, 403, 200, 200, 403, 401),
    "start": (200, 200, 403, 403, 403, 403, 401),
    "end": (200, 200, 403, 403, 403, 403, 401),
    "handover": (200, 403, 403, 200, 200, 403, 401),
}


@pytest.mark.parametrize("action", list(API_EXPECTED))
@pytest.mark.parametrize("who", WHO)
def test_each_role_in_the_api(client, api_client, people, session_of, action, who):
    expected = API_EXPECTED[action][WHO.index(who)]
    caller = api_caller(client, api_client, people, who)
    session = session_of(status="live") if action == "end" else session_of()
    substitute = people["other_instructor"]
    requests = {
        "edit": lambda: caller.put(f"/api/training/sessions/{session.id}", json={"title": "Changed"}),
        "start": lambda: caller.post(f"/api/training/sessions/{session.id}/start"),
        "end": lambda: caller.post(f"/api/training/sessions/{session.id}/end"),
        "handover": lambda: caller.put(
            f"/api/training/sessions/{session.id}/lead", json={"instructor_id": substitute.id}
        ),
    }
    response = requests[action]()
    assert response.status_code == expected, response.get_data(as_text=True)[:300]
    after = stored(session.id)
    changed = {
        "edit": after.title == "Changed",
        "start": after.status == "live",
        "end": after.status == "ended",
        "handover": after.instructor_id == substitute.id,
    }[action]
    assert changed is (expected == 200)
    if expected == 200:
        assert response.json["id"] == session.id and "assistant_ids" in response.json


# ---------------------------------------------------------------------------------------------- the pages, role by role
# lead, assistant, other instructor, board member, admin, member, anonymous (302 for anonymous: to sign in)
PAGE_EXPECTED = {
    "edit_form": (200, 200, 403, 200, 200, 403, 302),
    "edit": (302, 302, 403, 302, 302, 403, 302),
    "start": (302, 302, 403, 403, 403, 403, 302),
    "end": (302, 302, 403, 403, 403, 403, 302),
    "handover": (302, 403, 403, 302, 302, 403, 302),
    "attendance": (200, 200, 403, 200, 200, 403, 404),
}


def edit_form(session) -> dict[str, str]:
    start = session.start_time
    return {
        "title": "Changed",
        "start_date": start.strftime("%Y-%m-%d"),
        "start_clock": start.strftime("%H:%M"),
        "timezone": "UTC",
        "duration_minutes": str(session.duration_minutes),
        "members_only": "on",
        "chat_enabled": "on",
    }


@pytest.mark.parametrize("action", list(PAGE_EXPECTED))
@pytest.mark.parametrize("who", WHO)
def test_each_role_in_the_pages(client, login_as, people, session_of, action, who):
    expected = PAGE_EXPECTED[action][WHO.index(who)]
    caller = page_caller(client, login_as, people, who)
    session = session_of(status="live") if action in ("end", "attendance") else session_of()
    token = csrf_token(caller)
    substitute = people["other_instructor"]
    path = f"/sessions/{session.id}"
    requests = {
        "edit_form": lambda: caller.get(f"{path}/edit"),
        "edit": lambda: caller.post(f"{path}/edit", data={**edit_form(session), "csrf_token": token}),
        "start": lambda: caller.post(f"{path}/start", data={"csrf_token": token}),
        "end": lambda: caller.post(f"{path}/end", data={"csrf_token": token}),
        "handover": lambda: caller.post(f"{path}/lead", data={"instructor_id": substitute.id, "csrf_token": token}),
        "attendance": lambda: caller.get(f"{path}/attendance", headers={"HX-Request": "true"}),
    }
    response = requests[action]()
    assert response.status_code == expected, response.get_data(as_text=True)[:300]
    done = expected == 302 and who != "anonymous"  # a visitor is sent to sign in: nothing changes
    if who == "anonymous" and expected == 302:
        assert "/login" in response.headers["Location"]
    after = stored(session.id)
    changed = {
        "edit": after.title == "Changed",
        "start": after.status == "live",
        "end": after.status == "ended",
        "handover": after.instructor_id == substitute.id,
    }
    if action in changed:
        assert changed[action] is done


@pytest.mark.parametrize("who", WHO)
def test_the_session_page_offers_each_role_what_it_may_do(client, login_as, people, session_of, who):
    session = session_of(is_public=True)
    caller = page_caller(client, login_as, people, who)
    html = caller.get(f"/sessions/{session.id}").get_data(as_text=True)
    teaches = who in ("lead", "assistant")
    assert (f'action="/sessions/{session.id}/start"' in html) is teaches
    assert (f'href="/sessions/{session.id}/edit"' in html) is (teaches or who in ("board_member", "admin"))
    assert (f'action="/sessions/{session.id}/lead"' in html) is (who in ("lead", "board_member", "admin"))
    assert ('id="h-attendance"' in html) is (teaches or who in ("board_member", "admin"))
    # everyone sees who teaches it
    instructors = re.search(r'<dl class="facts instructors" id="instructors">(.*?)</dl>', html, re.S).group(1)
    assert "Lena Lead" in instructors and "Asa Assistant" in instructors


def test_an_assistant_sees_the_start_button_of_the_join_panel_in_the_lists(client, login_as, people, session_of):
    session = session_of(is_public=True, start_in=timedelta(days=1))  # the Start button is there, disabled
    login_as(people["assistant"])
    assert f'id="join-panel-{session.id}-start"' in client.get("/sessions").get_data(as_text=True)
    login_as(people["other_instructor"])
    assert f'id="join-panel-{session.id}-start"' not in client.get("/sessions").get_data(as_text=True)


def test_an_assistant_demoted_to_member_loses_the_instructor_rights(api_client, people, session_of):
    session = session_of()
    people["assistant"].role = "member"
    db.session.commit()
    caller, _ = api_client(people["assistant"])
    assert caller.put(f"/api/training/sessions/{session.id}", json={"title": "No"}).status_code == 403
    assert caller.post(f"/api/training/sessions/{session.id}/start").status_code == 403


# ------------------------------------------------------------------------------------------------ assistants: the API
def session_body(**overrides):
    return {
        "title": "Kata",
        "start_time": (now_utc() + timedelta(days=1)).isoformat(),
        "duration_minutes": 60,
        **overrides,
    }


def test_assistants_and_release_no_shows_are_set_read_and_replaced_in_the_api(api_client, people):
    caller, _ = api_client(people["lead"])
    second = person("board_member", "Second Board")  # the instructor role or above
    created = caller.post(
        "/api/training/sessions",
        json=session_body(assistant_ids=[second.id, people["assistant"].id], release_no_shows=True),
    )
    assert created.status_code == 201, created.json
    data = created.json
    assert data["assistant_ids"] == sorted([second.id, people["assistant"].id])
    assert data["release_no_shows"] is True
    assert assistant_rows(data["id"]) == data["assistant_ids"]
    again = caller.get(f"/api/training/sessions/{data['id']}").json
    assert again["assistant_ids"] == data["assistant_ids"] and again["release_no_shows"] is True
    changed = caller.put(
        f"/api/training/sessions/{data['id']}",
        json={"assistant_ids": [people["assistant"].id], "release_no_shows": False},
    )
    assert changed.status_code == 200
    assert changed.json["assistant_ids"] == [people["assistant"].id] and changed.json["release_no_shows"] is False
    assert caller.put(f"/api/training/sessions/{data['id']}", json={"assistant_ids": None}).json["assistant_ids"] == []
    assert assistant_rows(data["id"]) == []
    # the edit is audited with the assistants before and after
    entries = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.entity_id == data["id"], AuditEntry.action == "session.update")
    ).all()
    assert sorted([second.id, people["assistant"].id]) in [
        sorted(e.changes.get("assistant_ids", [[]])[0]) for e in entries
    ]
    # defaults: none, and seats of no-shows kept
    plain = caller.post("/api/training/sessions", json=session_body()).json
    assert plain["assistant_ids"] == [] and plain["release_no_shows"] is False


@pytest.mark.parametrize(
    ("assistants", "message"),
    [
        (lambda p, extra: [extra[0].id, extra[1].id, extra[2].id, p["assistant"].id], "at most 3 assistants"),
        (lambda p, extra: [p["assistant"].id, p["assistant"].id], "Name each assistant once"),
        (lambda p, extra: [p["member"].id], "must be active instructors"),
        (lambda p, extra: [extra[3].id], "must be active instructors"),  # inactive
        (lambda p, extra: [987654], "must be active instructors"),
        (lambda p, extra: [p["lead"].id], "lead instructor cannot also be an assistant"),
        (lambda p, extra: "1,2", "list of user ids"),
        (lambda p, extra: [0], "list of user ids"),
        (lambda p, extra: [True], "list of user ids"),
    ],
    ids=["four", "twice", "a member", "inactive", "nobody", "the lead", "a string", "zero", "a boolean"],
)
def test_bad_assistants_are_422_at_their_field_and_nothing_is_stored(
    api_client, people, session_of, assistants, message
):
    extra = [person("instructor", f"Extra {n}") for n in range(3)] + [person("instructor", "Gone", is_active=False)]
    chosen = assistants(people, extra)
    caller, _ = api_client(people["lead"])
    before = db.session.scalar(sa.select(sa.func.count()).select_from(TrainingSession))
    created = caller.post("/api/training/sessions", json=session_body(assistant_ids=chosen))
    assert created.status_code == 422
    assert message in created.json["error"]["fields"]["assistant_ids"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TrainingSession)) == before
    session = session_of()
    changed = caller.put(f"/api/training/sessions/{session.id}", json={"title": "Kept?", "assistant_ids": chosen})
    assert changed.status_code == 422
    assert message in changed.json["error"]["fields"]["assistant_ids"]
    assert stored(session.id).title != "Kept?" and assistant_rows(session.id) == [people["assistant"].id]


def test_release_no_shows_must_be_a_boolean(api_client, people):
    caller, _ = api_client(people["lead"])
    response = caller.post("/api/training/sessions", json=session_body(release_no_shows="yes"))
    assert response.status_code == 422 and "release_no_shows" in response.json["error"]["fields"]


def test_an_assistant_cannot_name_a_new_lead_through_an_edit(api_client, people, session_of):
    session = session_of()
    caller, _ = api_client(people["assistant"])
    response = caller.put(f"/api/training/sessions/{session.id}", json={"instructor_id": people["assistant"].id})
    assert response.status_code == 403
    assert stored(session.id).instructor_id == people["lead"].id


# ------------------------------------------------------------------------------------------------ the handover
@pytest.fixture
def lead_changes():
    sent = []

    def receiver(session, **kwargs):
        sent.append((session.id, kwargs))

    signals.lead_changed.connect(receiver)
    yield sent
    signals.lead_changed.disconnect(receiver)


def test_a_handover_changes_the_lead_audits_and_sends_lead_changed_once(api_client, people, session_of, lead_changes):
    session = session_of()
    caller, lead = api_client(people["lead"])
    substitute = people["other_instructor"]
    response = caller.put(f"/api/training/sessions/{session.id}/lead", json={"instructor_id": substitute.id})
    assert response.status_code == 200
    assert response.json["instructor_id"] == substitute.id and response.json["instructor_name"] == "Otto Other"
    assert response.json["assistant_ids"] == [people["assistant"].id]  # the old lead is not kept unless asked
    assert lead_changes == [
        (session.id, {"old_lead_id": lead.id, "new_lead_id": substitute.id, "actor": lead}),
    ]
    entry = db.session.scalar(
        sa.select(AuditEntry).where(AuditEntry.entity_id == session.id, AuditEntry.action == "session.hand_over")
    )
    assert entry.actor_id == lead.id and entry.changes["instructor_id"] == [lead.id, substitute.id]
    # the old lead is no longer one of its instructors
    assert caller.put(f"/api/training/sessions/{session.id}", json={"title": "Mine?"}).status_code == 403


def test_an_assistant_taken_as_lead_leaves_the_assistants_and_the_old_lead_may_stay_on(
    api_client, people, session_of, lead_changes
):
    session = session_of()
    caller, _ = api_client(people["board_member"])
    response = caller.put(
        f"/api/training/sessions/{session.id}/lead",
        json={"instructor_id": people["assistant"].id, "keep_as_assistant": True},
    )
    assert response.status_code == 200
    assert response.json["instructor_id"] == people["assistant"].id
    assert response.json["assistant_ids"] == [people["lead"].id]
    assert [kwargs["actor"].id for _, kwargs in lead_changes] == [people["board_member"].id]


def test_keeping_the_old_lead_on_needs_a_free_assistant_place(api_client, people, session_of, lead_changes):
    session = session_of()
    add_assistants(session, person("instructor", "Extra 1"), person("instructor", "Extra 2"))
    caller, _ = api_client(people["lead"])
    response = caller.put(
        f"/api/training/sessions/{session.id}/lead",
        json={"instructor_id": people["other_instructor"].id, "keep_as_assistant": True},
    )
    assert response.status_code == 422 and "keep_as_assistant" in response.json["error"]["fields"]
    assert stored(session.id).instructor_id == people["lead"].id and lead_changes == []


@pytest.mark.parametrize(
    "new_lead", ["the lead", "a member", "nobody", "text", "missing", "inactive", "unknown field"], ids=str
)
def test_a_bad_new_lead_is_422_and_changes_nothing(api_client, people, session_of, lead_changes, new_lead):
    session = session_of()
    caller, _ = api_client(people["lead"])
    inactive = person("instructor", "Gone", is_active=False)
    bodies = {
        "the lead": {"instructor_id": people["lead"].id},
        "a member": {"instructor_id": people["member"].id},
        "nobody": {"instructor_id": 987654},
        "text": {"instructor_id": "3"},
        "missing": {},
        "inactive": {"instructor_id": inactive.id},
        "unknown field": {"instructor_id": people["other_instructor"].id, "lead": 1},
    }
    response = caller.put(f"/api/training/sessions/{session.id}/lead", json=bodies[new_lead])
    assert response.status_code == 422, response.json
    assert response.json["error"]["fields"]
    assert stored(session.id).instructor_id == people["lead"].id and lead_changes == []


def test_a_final_session_is_not_handed_over(api_client, people, session_of, lead_changes):
    session = session_of(status="ended")
    caller, _ = api_client(people["lead"])
    response = caller.put(
        f"/api/training/sessions/{session.id}/lead", json={"instructor_id": people["other_instructor"].id}
    )
    assert response.status_code == 409 and lead_changes == []


def test_a_new_lead_through_an_edit_by_the_board_is_a_handover_too(api_client, people, session_of, lead_changes):
    session = session_of()
    caller, board = api_client(people["board_member"])
    response = caller.put(f"/api/training/sessions/{session.id}", json={"instructor_id": people["assistant"].id})
    assert response.status_code == 200
    assert response.json["assistant_ids"] == []  # promoted: no longer an assistant
    assert lead_changes == [
        (session.id, {"old_lead_id": people["lead"].id, "new_lead_id": people["assistant"].id, "actor": board})
    ]


def test_the_hand_over_form_of_the_session_page(client, login_as, people, session_of, lead_changes):
    session = session_of()
    login_as(people["lead"])
    page = client.get(f"/sessions/{session.id}").get_data(as_text=True)
    form = re.search(r'<form [^>]*id="hand-over".*?</form>', page, re.S).group(0)
    assert "Hand over to…" in form and "Otto Other" in form and ">Lena Lead<" not in form
    assert "Stay on as an assistant" in form
    token = csrf_token(client)
    bad = client.post(f"/sessions/{session.id}/lead", data={"instructor_id": "", "csrf_token": token})
    assert bad.status_code == 422 and "Choose an instructor from the list." in bad.get_data(as_text=True)
    member = client.post(
        f"/sessions/{session.id}/lead", data={"instructor_id": people["member"].id, "csrf_token": token}
    )
    assert member.status_code == 422 and "Choose an active instructor." in member.get_data(as_text=True)
    assert lead_changes == []
    done = client.post(
        f"/sessions/{session.id}/lead",
        data={"instructor_id": people["other_instructor"].id, "keep_as_assistant": "on", "csrf_token": token},
    )
    assert done.status_code == 302
    after = stored(session.id)
    assert after.instructor_id == people["other_instructor"].id
    assert after.assistant_ids == sorted([people["lead"].id, people["assistant"].id])
    assert len(lead_changes) == 1
    page = client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "Otto Other now leads" in page
    assert f'action="/sessions/{session.id}/lead"' not in page  # an assistant now: no handover
    assert f'href="/sessions/{session.id}/edit"' in page  # but still edits


# ------------------------------------------------------------------------------------------------ the form
def test_the_scheduling_form_picks_assistants_and_the_release_of_no_shows(client, login_as, people):
    login_as(people["lead"])
    form = client.get("/sessions/new").get_data(as_text=True)
    assert "<legend>Assistant instructors</legend>" in form
    assert f'name="assistant_ids" value="{people["assistant"].id}"' in form
    assert f'name="assistant_ids" value="{people["lead"].id}"' not in form  # the lead is not offered
    assert f'name="assistant_ids" value="{people["member"].id}"' not in form  # instructors only
    assert 'name="release_no_shows"' in form
    start = now_utc() + timedelta(days=2)
    data = {
        "title": "With help",
        "start_date": start.strftime("%Y-%m-%d"),
        "start_clock": "18:00",
        "timezone": "UTC",
        "duration_minutes": "60",
        "release_no_shows": "on",
        "csrf_token": csrf_token(client),
    }
    bad = client.post(
        "/sessions/new", data={**data, "assistant_ids": [str(people["assistant"].id), str(people["assistant"].id)]}
    )
    assert bad.status_code == 422 and "Name each assistant once." in bad.get_data(as_text=True)
    assert db.session.scalar(sa.select(TrainingSession).where(TrainingSession.title == "With help")) is None
    too_many = [str(person("instructor", f"Extra {n}").id) for n in range(4)]
    bad = client.post("/sessions/new", data={**data, "assistant_ids": too_many})
    assert bad.status_code == 422 and "at most 3 assistants" in bad.get_data(as_text=True)
    done = client.post("/sessions/new", data={**data, "assistant_ids": [str(people["assistant"].id)]})
    assert done.status_code == 302
    session = db.session.scalar(sa.select(TrainingSession).where(TrainingSession.title == "With help"))
    assert session.assistant_ids == [people["assistant"].id] and session.release_no_shows is True
    edit = client.get(f"/sessions/{session.id}/edit").get_data(as_text=True)
    assert re.search(rf'name="assistant_ids" value="{people["assistant"].id}"[^>]*checked', edit)
    assert re.search(r'name="release_no_shows"[^>]*checked', edit)
    # unticking every assistant removes them
    edited = {**data, "title": "Alone", "start_date": session.start_time.strftime("%Y-%m-%d")}
    edited.pop("release_no_shows")
    assert client.post(f"/sessions/{session.id}/edit", data=edited).status_code == 302
    after = stored(session.id)
    assert after.assistant_ids == [] and after.release_no_shows is False


def test_a_weekly_class_takes_no_assistants(client, login_as, people):
    login_as(people["lead"])
    start = now_utc() + timedelta(days=2)
    response = client.post(
        "/sessions/new",
        data={
            "title": "Weekly",
            "start_date": start.strftime("%Y-%m-%d"),
            "start_clock": "18:00",
            "timezone": "UTC",
            "duration_minutes": "60",
            "repeats": "on",
            "weekdays": "MO",
            "count": "3",
            "assistant_ids": str(people["assistant"].id),
            "csrf_token": csrf_token(client),
        },
    )
    assert response.status_code == 422
    assert "Assistants are chosen one session at a time" in response.get_data(as_text=True)


# ------------------------------------------------------------------------------------------------ my sessions
def test_my_sessions_lists_the_sessions_one_assists(client, login_as, people, session_of, make_session):
    assisted = session_of(title="Assisted class")
    led = make_session(instructor=people["assistant"], title="Own class")
    make_session(instructor=people["lead"], title="Not theirs")
    login_as(people["assistant"])
    html = client.get("/my/sessions").get_data(as_text=True)
    assert "Assisted class" in html and "Own class" in html and "Not theirs" not in html
    assert re.search(rf'/sessions/{assisted.id}">Assisted class</a>.*?</td>\s*<td>Assistant</td>', html, re.S)
    assert re.search(rf'/sessions/{led.id}">Own class</a>.*?</td>\s*<td>Lead</td>', html, re.S)


# ------------------------------------------------------------------------------------------------ the document
def test_the_instructors_answers_are_as_documented(client, app, api_client, people, session_of):
    """The session JSON with assistant_ids and release_no_shows, the assistants in a create and an edit, and the
    handover, each answer checked against the OpenAPI document (tests/test_openapi.py's Contract)."""
    check = Contract(app, client.get("/api/openapi.json").get_json())
    caller, _ = api_client(people["lead"])
    body = session_body(assistant_ids=[people["assistant"].id], release_no_shows=True)
    made = check(caller, "POST", "/api/training/sessions", status=201, json=body)
    url = f"/api/training/sessions/{made['id']}"
    check(caller, "POST", "/api/training/sessions", status=422, json=session_body(assistant_ids=[1, 1]))
    check(caller, "PUT", url, status=200, json={"assistant_ids": [], "release_no_shows": False})
    check(caller, "PUT", f"{url}/lead", status=422, json={"instructor_id": people["member"].id})
    check(api_client(people["member"])[0], "PUT", f"{url}/lead", status=403, json={"instructor_id": 1})
    handed = check(caller, "PUT", f"{url}/lead", status=200, json={"instructor_id": people["other_instructor"].id})
    assert handed["instructor_id"] == people["other_instructor"].id
    check(caller, "PUT", f"{url}/lead", status=403, json={"instructor_id": people["lead"].id})  # no longer the lead
    page = check(caller, "GET", "/api/training/sessions?limit=5", status=200)
    assert page["items"] and all("assistant_ids" in item for item in page["items"])
