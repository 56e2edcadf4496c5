"""The vendored RealtimeKit 2.0.2 (static/vendor/realtimekit-2.0.2/): the files the room needs are there, served
by the portal byte for byte as their SRI digests say, with their licence text; and `chat_enabled` reaches the
room's configuration (the SDK's chat module: see static/js/room-rtk.js)."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from flask import render_template

from portal.config import PROJECT_ROOT
from portal.video.cloudflare import room
from portal.video.port import JoinGrant

VENDOR = PROJECT_ROOT / "static" / room.VENDOR_DIR


def _sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def test_only_the_two_browser_bundles_and_their_notes_are_vendored():
    files = sorted(p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file())
    assert files == ["README.md", "realtimekit-ui/browser.js", "realtimekit/LICENSE.txt", "realtimekit/browser.js"]
    assert "Apache License" in (VENDOR / "realtimekit/LICENSE.txt").read_text()
    assert "2.0.2" in (VENDOR / "README.md").read_text()


def test_the_bundles_are_the_published_ones_and_self_contained():
    core = (VENDOR / "realtimekit/browser.js").read_bytes()
    ui = (VENDOR / "realtimekit-ui/browser.js").read_bytes()
    assert _sri(core) == room.RTK_CORE_INTEGRITY == room.RTK_CORE_INTEGRITY_PINNED
    assert _sri(ui) == room.RTK_UI_INTEGRITY
    assert core.startswith(b"var RealtimeKitClient=") and ui.startswith(b"var RtkUiKit=")
    assert b"new Function" not in core and re.search(rb"[^\w.]eval\(", core) is None  # no 'unsafe-eval' needed
    assert b"new Function" not in ui and re.search(rb"[^\w.]eval\(", ui) is None


@pytest.mark.parametrize("key", ["core", "ui"])
def test_the_portal_serves_each_bundle_matching_its_integrity(client, key):
    with client.get(f"/static/{room.ROOM_ASSETS[f'{key}_path']}") as response:
        assert response.status_code == 200
        assert "javascript" in response.headers["Content-Type"]
        assert _sri(response.get_data()) == room.ROOM_ASSETS[f"{key}_integrity"]


@pytest.mark.parametrize(("chat_enabled", "expected"), [(True, "on"), (False, "off")])
def test_chat_enabled_reaches_the_room_configuration(app, make_session, make_user, chat_enabled, expected):
    session = make_session(chat_enabled=chat_enabled)
    with app.test_request_context("/"):
        html = render_template(
            "video/_room.html",
            grant=JoinGrant("cloudflare", "m-1", "tok", "p-1", False),
            session=session,
            user=make_user("member"),
        )
    assert re.search(rf'<rtk-meeting id="rtk-meeting"[^>]*data-chat="{expected}"', html)


def test_the_room_script_starts_the_sdk_with_the_chat_setting():
    script = (PROJECT_ROOT / "static/js/room-rtk.js").read_text()
    assert 'element.dataset.chat !== "off"' in script
    assert "RealtimeKitClient.init({ authToken: token, modules: { chat } })" in script
