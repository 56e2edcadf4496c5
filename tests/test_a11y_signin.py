"""A signed-out visitor of a page they may not see (issue 14) is asked to sign in and comes back there afterwards:
the same page for any session id, existing or not (existence does not leak), answered centrally by the error
handler; signed-in people, htmx and the API keep their plain 404. The sign-in's return path is local only."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import PASSWORD, csrf_token

SIGN_IN_LINK = re.compile(r'id="error-sign-in" href="([^"]+)"')


def _sign_in_link(response) -> str | None:
    match = SIGN_IN_LINK.search(response.get_data(as_text=True))
    return match.group(1).replace("&amp;", "&") if match else None


def _return_to(response) -> str | None:
    """The `next` of the page's sign-in link (None without one); the link itself goes to /login."""
    link = _sign_in_link(response)
    if link is None:
        return None
    parts = urlsplit(link)
    assert parts.path == "/login" and not parts.netloc
    return parse_qs(parts.query)["next"][0]


def _page_without_ids(response, *ids: int) -> str:
    html = response.get_data(as_text=True)
    html = re.sub(r'"X-CSRFToken": "[^"]+"', "", html)
    for session_id in ids:
        html = html.replace(f"/sessions/{session_id}", "/sessions/N")
    return html


@pytest.fixture
def members_only(make_session):
    return make_session(title="Dan grading prep", start_in=timedelta(days=1), members_only=True, is_public=False)


@pytest.mark.parametrize("suffix", ["", "/join", "/attendance"])
def test_a_signed_out_visitor_gets_the_same_sign_in_offer_for_any_session_id(client, members_only, suffix):
    existing = client.get(f"/sessions/{members_only.id}{suffix}")
    missing = client.get(f"/sessions/{members_only.id + 1000}{suffix}")
    assert existing.status_code == missing.status_code == 404
    assert _return_to(existing) == f"/sessions/{members_only.id}{suffix}"
    assert _return_to(missing) == f"/sessions/{members_only.id + 1000}{suffix}"
    assert "Sign in to see this page" in existing.get_data(as_text=True)
    # nothing else differs: not the title, not the status, not a word
    assert _page_without_ids(existing, members_only.id) == _page_without_ids(missing, members_only.id + 1000)
    assert "Dan grading prep" not in existing.get_data(as_text=True)


def test_the_query_string_comes_back_too_and_any_unknown_page_offers_it(client):
    answer = client.get("/sessions/123456?tab=seats")
    assert _return_to(answer) == "/sessions/123456?tab=seats"
    assert _return_to(client.get("/no/such/page")) == "/no/such/page"


def test_signed_in_people_htmx_and_the_api_keep_the_plain_not_found(client, htmx, login_as, members_only):
    assert _sign_in_link(htmx.get(f"/sessions/{members_only.id}/panel")) is None
    api = client.get(f"/api/sessions/{members_only.id}")
    assert api.status_code == 404 and api.is_json
    login_as("public")
    page = client.get(f"/sessions/{members_only.id}")
    assert page.status_code == 404 and _sign_in_link(page) is None
    assert "Not found" in page.get_data(as_text=True)


def test_after_signing_in_the_visitor_lands_on_the_page(client, make_user, members_only):
    member = make_user("member")
    link = _sign_in_link(client.get(f"/sessions/{members_only.id}"))
    form = client.get(link).get_data(as_text=True)
    assert f'name="next" value="/sessions/{members_only.id}"' in form
    answer = client.post(
        "/login",
        data={
            "email": member.email,
            "password": PASSWORD,
            "next": f"/sessions/{members_only.id}",
            "csrf_token": csrf_token(client),
        },
    )
    assert answer.status_code == 302 and answer.headers["Location"] == f"/sessions/{members_only.id}"
    page = client.get(answer.headers["Location"])
    assert page.status_code == 200 and "Dan grading prep" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        " /sessions",
        "javascript:alert(1)",
        "sessions/1",
        "",
    ],
)
def test_the_return_path_is_a_local_path_only(client, make_user, target):
    member = make_user("member")
    shown = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    assert 'name="next" value=""' in shown  # a foreign target is not even carried in the form
    answer = client.post(
        "/login",
        data={"email": member.email, "password": PASSWORD, "next": target, "csrf_token": csrf_token(client)},
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    # signed in already: the same rule
    assert client.get("/login", query_string={"next": target}).headers["Location"] == "/"
