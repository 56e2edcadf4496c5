"""The people pages (add, invite, import, activate) and the unsubscribe link against every role and anonymous:
the status each gets. Admin pages are for admins; the unsubscribe link is for whoever holds it, signed in or not."""

from __future__ import annotations

import io

import pytest

from portal.accounts import people, roster
from portal.config import current_settings
from portal.extensions import db
from portal.notifications import consent

ROLES = ["anonymous", "public", "member", "instructor", "board_member", "admin"]
LOGIN = 302  # a browser without a session is sent to the sign-in page
ADMIN_ONLY = (LOGIN, 403, 403, 403, 403)

CSV = b"email,name,role,time_zone\nnew.person@example.org,New Person,member,UTC\n"
# (method, url, body, expected for: anonymous, public, member, instructor, board_member, admin)
PAGES = [
    ("GET", "/admin/users", None, (*ADMIN_ONLY, 200)),
    ("GET", "/admin/users/new", None, (*ADMIN_ONLY, 200)),
    ("POST", "/admin/users/new", {"name": ""}, (*ADMIN_ONLY, 422)),
    ("POST", "/admin/users/{target}/invite", {}, (*ADMIN_ONLY, 302)),
    ("POST", "/admin/users/424242/invite", {}, (*ADMIN_ONLY, 404)),
    ("POST", "/admin/users/{target}/active", {"is_active": "false"}, (*ADMIN_ONLY, 302)),
    ("POST", "/admin/users/{target}/active", {"is_active": "true"}, (*ADMIN_ONLY, 302)),
    ("GET", "/admin/users/import", None, (*ADMIN_ONLY, 200)),
    ("POST", "/admin/users/import", "csv", (*ADMIN_ONLY, 302)),
    ("POST", "/admin/users/import", {}, (*ADMIN_ONLY, 422)),
    ("GET", "/admin/users/import/{upload}", None, (*ADMIN_ONLY, 409)),  # another admin's upload
    ("POST", "/admin/users/import/{upload}", {}, (*ADMIN_ONLY, 409)),
    ("GET", "/admin/users/import/unknown", None, (*ADMIN_ONLY, 409)),
    ("GET", "/account", None, (LOGIN, 200, 200, 200, 200, 200)),
    ("GET", "/unsubscribe/{token}", None, (200, 200, 200, 200, 200, 200)),
    ("POST", "/unsubscribe/{token}", {}, (200, 200, 200, 200, 200, 200)),
    ("GET", "/unsubscribe/forged", None, (404, 404, 404, 404, 404, 404)),
    ("POST", "/unsubscribe/forged", {}, (404, 404, 404, 404, 404, 404)),
]


def _cases(table):
    for method, url, body, expected in table:
        for role, status in zip(ROLES, expected, strict=True):
            yield pytest.param(method, url, body, role, status, id=f"{method} {url} as {role}")


@pytest.fixture
def ids(redis_conn):  # Redis emptied first, then the upload kept
    target = people.new_person("target@example.org", "Target", "member", "UTC")  # no password: no hashing time
    owner = people.new_person("owner@example.org", "Owner", "admin", "UTC")
    db.session.add_all([target, owner])
    db.session.commit()
    return {
        "target": target.id,
        "token": consent.unsubscribe_token(target, "notices", current_settings()),
        "upload": roster.keep(roster.read_roster(CSV), actor=owner),
    }


@pytest.mark.parametrize(("method", "url", "body", "role", "expected"), list(_cases(PAGES)))
def test_people_page_access(client, login_as, ids, method, url, body, role, expected):
    if role != "anonymous":
        login_as(role)
    target = url.format(**ids)
    if body == "csv":
        response = client.post(target, data={"file": (io.BytesIO(CSV), "r.csv")}, content_type="multipart/form-data")
    elif method == "GET":
        response = client.get(target)
    else:
        response = client.post(target, data=body)
    assert response.status_code == expected, response.get_data(as_text=True)[-800:]
