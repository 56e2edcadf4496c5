import re
from pathlib import Path

import pytest
from flask import render_template_string

from portal.seats.models import SeatStatus
from portal.seats.rules import Reason, SeatAction
from portal.training.models import RoomStatus, SessionStatus
from portal.video.models import RecordingStatus

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# A status, a refusal reason or a role spelled as a string in a template: they reach templates as names.
LITERAL = re.compile(
    r"""== ?['"](scheduled|live|ended|canceled|confirmed|waitlisted|too_early|full|ready|failed|recording|uploading)"""
    r"""['"]|has_role\("""
)


def test_home_page_renders_for_anonymous_visitors(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Training Portal" in response.data


def test_signed_in_member_sees_their_name(client, login_as):
    user = login_as("member", name="Aiko Tanaka")
    assert "Aiko Tanaka" in client.get("/").get_data(as_text=True)
    assert user.role == "member"


def _templates() -> list[str]:
    return sorted(str(path.relative_to(TEMPLATES)) for path in TEMPLATES.rglob("*.html"))


@pytest.mark.parametrize("name", _templates())
def test_templates_compare_with_names_not_strings(name):
    found = [line for line in (TEMPLATES / name).read_text().splitlines() if LITERAL.search(line)]
    assert found == []


def test_the_enums_are_template_globals(app, make_session):
    for enum in (SessionStatus, RoomStatus, RecordingStatus, SeatStatus, Reason, SeatAction):
        assert app.jinja_env.globals[enum.__name__] is enum
    live = make_session(status="live")
    assert render_template_string("{{ s.status == SessionStatus.LIVE }} {{ s.is_final }}", s=live) == "True False"
