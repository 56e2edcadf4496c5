"""The room partial for each provider, the headers of a page carrying a token, presence, the recording partial."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import render_template

from portal.config import PROJECT_ROOT
from portal.core.clock import now_utc
from portal.extensions import db
from portal.seats import operations as seats_ops
from portal.video.cloudflare.room import (
    REALTIME_HOSTS,
    RTK_CORE_INTEGRITY,
    RTK_CORE_PATH,
    RTK_UI_INTEGRITY,
    RTK_UI_PATH,
    UI_KIT_HOSTS,
    UI_KIT_STYLE_HASH,
    room_csp,
)
from portal.video.port import JoinGrant
from portal.video.views import room_headers


def _render(app, **context) -> str:
    with app.test_request_context("/"):
        return render_template("video/_room.html", **context)


def _directives(csp: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in csp.split("; ")}


def test_the_local_room_says_plainly_it_has_no_video(app, make_session, make_user):
    session = make_session()
    user = make_user("member", name="Aiko")
    html = _render(app, grant=JoinGrant("local", "local-1", "tok-secret", "lp-1", False), session=session, user=user)
    assert "Development room — no video" in html and "Aiko" in html
    assert "tok-secret" not in html and "<rtk-meeting" not in html
    assert f'hx-get="/sessions/{session.id}/room/presence"' in html


def test_the_cloudflare_room_renders_the_vendored_ui_kit_with_this_persons_token_and_sri(app, make_session, make_user):
    session = make_session()
    grant = JoinGrant("cloudflare", "m-1", "participant-token-abc", "p-1", False)
    html = _render(app, grant=grant, session=session, user=make_user("member"))
    assert re.search(r'<rtk-meeting id="rtk-meeting"[^>]*data-auth-token="participant-token-abc"', html)
    core = re.search(r'<script src="([^"]+)" integrity="([^"]+)" crossorigin="anonymous"></script>', html)
    assert core.groups() == (f"/static/{RTK_CORE_PATH}", RTK_CORE_INTEGRITY)
    assert f'src="/static/{RTK_UI_PATH}" integrity="{RTK_UI_INTEGRITY}"' in html
    assert "/static/vendor/realtimekit-2.0.2/" in html and "@latest" not in html
    assert "cdn.jsdelivr.net" not in html and "https://" not in html  # nothing from another origin
    assert '<script type="module" src="/static/js/room-rtk.js">' in html
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None  # no inline script: CSP forbids it


def test_room_headers_forbid_caching_always(app):
    response = app.response_class("x")
    room_headers(response, JoinGrant("local", "r", "t", "p", False))
    assert response.headers["Cache-Control"].startswith("no-store")
    assert response.headers["Pragma"] == "no-cache"
    assert "Content-Security-Policy" not in response.headers  # the portal's strict default applies


def test_the_cloudflare_csp_allows_the_portal_and_exactly_the_realtimekit_hosts(app):
    response = room_headers(app.response_class("x"), JoinGrant("cloudflare", "r", "t", "p", False))
    policy = _directives(response.headers["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]  # the vendored kit: no CDN, no 'unsafe-eval', no 'unsafe-inline'
    assert policy["style-src"] == ["'self'", UI_KIT_STYLE_HASH]
    assert policy["default-src"] == ["'self'"]
    connect = set(policy["connect-src"])
    for host in REALTIME_HOSTS:
        assert f"https://{host}" in connect and f"wss://{host}" in connect
    allowed_hosts = {re.sub(r"^[a-z]+://", "", s) for d in policy.values() for s in d if "://" in s}
    assert allowed_hosts == set(REALTIME_HOSTS) | set(UI_KIT_HOSTS)
    assert "'unsafe-inline'" not in room_csp() and "'unsafe-eval'" not in room_csp()
    assert policy["frame-ancestors"] == ["'none'"]


def test_the_room_script_has_no_token_and_no_host_of_its_own():
    script = (PROJECT_ROOT / "static/js/room-rtk.js").read_text()
    assert "dataset.authToken" in script and "http" not in script


# --------------------------------------------------------------------------------------------- presence
@pytest.fixture
def live(make_session):
    return make_session(start_in=timedelta(minutes=-5), status="live", started_at=now_utc())


def test_presence_lists_who_is_in_the_room_and_keeps_polling(htmx, login_as, live, make_user):
    member = login_as("member", client=htmx, name="Aiko")
    other = make_user("member", name="Ben")
    seats_ops.record_join(live, member, now_utc())
    seats_ops.record_join(live, other, now_utc())
    seats_ops.record_leave(live, other, now_utc() + timedelta(seconds=1))
    db.session.commit()
    response = htmx.get(f"/sessions/{live.id}/room/presence")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Aiko" in html and "Ben" not in html
    assert 'hx-trigger="every 5s"' in html and 'hx-swap="outerHTML"' in html
    assert "<html" not in html and response.headers["Cache-Control"].startswith("no-store")


def test_presence_stops_polling_once_the_session_is_over(htmx, login_as, make_session):
    ended = make_session(start_in=timedelta(hours=-2), status="ended")
    user = login_as("member", client=htmx)
    seats_ops.record_join(ended, user, now_utc() - timedelta(hours=2))
    db.session.commit()
    html = htmx.get(f"/sessions/{ended.id}/room/presence").get_data(as_text=True)
    assert "hx-trigger" not in html and "hx-get" not in html and "ended" in html


def test_presence_without_javascript_is_a_full_page(client, login_as, live):
    login_as(live.instructor)
    response = client.get(f"/sessions/{live.id}/room/presence")
    assert response.status_code == 200 and "<html" in response.get_data(as_text=True)


def test_presence_is_only_for_people_in_the_session(client, login_as, live):
    login_as("member")
    assert client.get(f"/sessions/{live.id}/room/presence").status_code == 404
    assert client.get("/sessions/999999/room/presence").status_code == 404


def test_presence_needs_a_sign_in(client, live):
    assert client.get(f"/sessions/{live.id}/room/presence").status_code == 401


def test_only_the_first_render_of_presence_loads_at_once(app, make_session, make_user):
    session = make_session()
    html = _render(app, grant=JoinGrant("local", "r", "t", "p", False), session=session, user=make_user())
    assert 'hx-trigger="load, every 5s"' in html
    with app.test_request_context("/"):
        again = render_template("seats/_presence.html", session=session, present=[])
    assert 'hx-trigger="every 5s"' in again  # a swapped-in copy never fires on load (no tight loop)
