"""The main HTML forms under hostile input: sign-in, sign-up, account, session create and edit, event create and
edit. Hypothesis starts from a valid submission of each form and replaces some of its fields (the fields the
rendered form really has, plus one it does not) with hostile values: any text (NUL, line and paragraph separators,
astral characters), bytes that are not UTF-8, numbers that are not ASCII digits or are out of any range, impossible
dates and times, time-zone names that are not zones, and very long text. Every answer must be no 5xx, and a form
that is refused (4xx) must store nothing.

Budget: PORTAL_FORM_FUZZ_EXAMPLES submissions per form (default 12), derandomized.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.core.clock import now_utc
from tests.conftest import PASSWORD
from tests.test_api_fuzz import fingerprint

EXAMPLES = int(os.environ.get("PORTAL_FORM_FUZZ_EXAMPLES", "12"))
UNKNOWN_FIELD = "x_unknown"

# --------------------------------------------------------------------------------------------- hostile values
ODD_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "line\r\nBcc: victim@example.org",
    "\u2028",
    "\u202e",
    "\ufeff",
    "😀" * 3,
    "<script>alert(1)</script>",
    "=1+1",
    "x" * 300,
]
ODD_NUMBERS = ["²", "١٢", "½", "1e9", "-1", "0", "+5", " 7 ", "99999999999999999999", "NaN", "Infinity", "0x10", "1_0"]
ODD_DATES = ["0001-01-01", "9999-12-31", "2026-02-30", "2026-13-01", "20261201", "1-1-1", "2026-12-01T00:00"]
ODD_CLOCKS = ["24:00", "23:60", "25:61", "12", "12:00:00", "-1:00", "\u06f1\u06f2:\u06f0\u06f0"]
ODD_ZONES = ["Europe", "America", "Etc", "UTC ", "utc", "Europe/Nowhere", "../../etc/passwd", "x" * 300]

hostile_text = st.one_of(
    st.sampled_from(ODD_TEXT + ODD_NUMBERS + ODD_DATES + ODD_CLOCKS + ODD_ZONES),
    st.text(max_size=40),
    st.integers().map(str),
    st.dates().map(str),
    st.times().map(lambda t: t.strftime("%H:%M")),
    st.text(min_size=2000, max_size=6000, alphabet="ab \n"),
)
# What reaches the server: UTF-8 of any text (lone surrogates included, as they would be sent), or bytes that are
# not UTF-8 at all.
hostile_bytes = st.one_of(
    hostile_text.map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=24),
)


def submissions(valid: dict[str, str], fields: list[str]) -> st.SearchStrategy[list[tuple[str, bytes]]]:
    """`valid`, with a non-empty subset of `fields` (and sometimes an unknown field) replaced by hostile bytes."""
    names = sorted({*fields, UNKNOWN_FIELD})
    replaced = st.dictionaries(st.sampled_from(names), hostile_bytes, min_size=1, max_size=len(names))
    base = {name: value.encode() for name, value in valid.items()}
    return replaced.map(lambda changes: sorted({**base, **changes}.items()))


# --------------------------------------------------------------------------------------------- the run
def form_fields(client, page: str) -> list[str]:
    """The names of the fields of the page's main form (the one with class "stacked")."""
    html = client.get(page).get_data(as_text=True)
    form = re.search(r'<form method="post"[^>]*class="stacked".*?</form>', html, flags=re.S)
    assert form, f"{page} has no main form"
    names = set(re.findall(r'name="([^"]+)"', form.group(0))) - {"csrf_token"}
    assert names, f"the form of {page} has no fields"
    return sorted(names)


def fuzz_form(client, page: str, action: str, valid: dict[str, str]) -> None:
    fields = form_fields(client, page)
    problems: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(form=submissions(valid, fields))
    def submit(form: list[tuple[str, bytes]]) -> None:
        before = fingerprint()
        response = client.post(action, data=urlencode(form), content_type="application/x-www-form-urlencoded")
        status = response.status_code
        if status >= 500:
            problems.append(f"POST {action} {form!r} answered {status}")
        elif status >= 400 and fingerprint() != before:
            problems.append(f"POST {action} {form!r} was refused with {status} but changed the database")

    submit()
    assert problems == [], "\n".join(problems)


def local_tomorrow() -> dict[str, str]:
    tomorrow = now_utc() + timedelta(days=1)
    return {"start_date": tomorrow.strftime("%Y-%m-%d"), "start_clock": "18:00", "timezone": "UTC"}


# --------------------------------------------------------------------------------------------- the forms
def test_sign_in_form_under_hostile_input(client, make_user):
    user = make_user("member")
    fuzz_form(client, "/login", "/login", {"email": user.email, "password": PASSWORD, "next": "/sessions"})


def test_sign_up_form_under_hostile_input(client):
    valid = {"email": "new@example.org", "name": "New Person", "password": "a long passphrase 42"}
    fuzz_form(client, "/signup", "/signup", {**valid, "timezone": "Europe/Berlin"})


def test_account_form_under_hostile_input(client, login_as):
    login_as("member")
    valid = {"name": "Aiko Tanaka", "timezone": "Asia/Tokyo"}
    fuzz_form(client, "/account", "/account", valid)


def test_session_forms_under_hostile_input(client, login_as, make_session, make_event):
    instructor = login_as("instructor")
    event = make_event()
    valid = {
        "title": "Kata basics",
        "description": "Heian shodan",
        "tags": "kata, beginners",
        "duration_minutes": "60",
        "capacity": "12",
        "event_id": str(event.id),
        "chat_enabled": "on",
        "members_only": "on",
        **local_tomorrow(),
    }
    fuzz_form(client, "/sessions/new", "/sessions/new", valid)
    session = make_session(instructor=instructor)
    fuzz_form(client, f"/sessions/{session.id}/edit", f"/sessions/{session.id}/edit", valid)


def test_event_forms_under_hostile_input(client, login_as, make_event):
    login_as("board_member")
    tomorrow = local_tomorrow()
    valid = {
        "title": "Summer camp",
        "description": "Four days of training",
        "location": "Dojo",
        "visibility": "public",
        **tomorrow,
        "end_date": tomorrow["start_date"],
        "end_clock": "20:00",
    }
    fuzz_form(client, "/events/new", "/events/new", valid)
    event = make_event()
    fuzz_form(client, f"/events/{event.id}/edit", f"/events/{event.id}/edit", valid)


# The inputs of issue 15's report, each in one field at a time of each form, the others valid.
REPORTED = ["Europe", "America", "x" * 300, "\ud800", "a\x00b", "²", "0001-01-01", "9999-12-31"]
FORMS = {
    "session": ("instructor", "/sessions/new"),
    "event": ("board_member", "/events/new"),
    "account": ("member", "/account"),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_each_reported_input_in_each_field_is_refused_or_stored_cleanly(client, login_as, make_event, form):
    role, page = FORMS[form]
    login_as(role)
    event = make_event()
    tomorrow = local_tomorrow()
    valid = {
        "session": {"title": "Kata", "duration_minutes": "60", "event_id": str(event.id), **tomorrow},
        "event": {"title": "Camp", **tomorrow, "end_date": tomorrow["start_date"], "end_clock": "20:00"},
        "account": {"name": "Aiko Tanaka", "timezone": "Asia/Tokyo"},
    }[form]
    problems = []
    for field in form_fields(client, page):
        for value in REPORTED:
            submitted = {**valid, field: value}
            body = urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in submitted.items()})
            before = fingerprint()
            response = client.post(page, data=body, content_type="application/x-www-form-urlencoded")
            if response.status_code >= 500:
                problems.append(f"{field}={value!r}: {response.status_code}")
            elif response.status_code >= 400 and fingerprint() != before:
                problems.append(f"{field}={value!r}: refused with {response.status_code} but stored")
    assert problems == []
