"""Roster import: upload -> preview of every row's errors -> confirm stores all rows in one transaction, or none;
a second import updates people by email. Each bad input gets its message and nothing is stored."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from portal.accounts import roster
from portal.accounts.models import User
from portal.audit.models import AuditEntry
from portal.extensions import db

HEADER = "email,name,role,time_zone\n"


def _people() -> dict[str, User]:
    db.session.expire_all()
    return {u.email: u for u in db.session.scalars(select(User))}


def _upload(client, content: bytes | str, *, delimiter: str = "", filename: str = "roster.csv"):
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        "/admin/users/import",
        data={"file": (io.BytesIO(data), filename), "delimiter": delimiter},
        content_type="multipart/form-data",
    )


def _preview(client, content, **kwargs):
    uploaded = _upload(client, content, **kwargs)
    assert uploaded.status_code == 302, uploaded.get_data(as_text=True)[-1500:]
    upload_id = uploaded.location.rsplit("/", 1)[-1]
    page = client.get(uploaded.location)
    return upload_id, page


def _confirm(client, upload_id: str):
    return client.post(f"/admin/users/import/{upload_id}")


# ------------------------------------------------------------------------------------------------ reading (pure)
def test_a_bom_and_semicolons_as_excel_writes_them_are_read():
    data = "\ufeffemail;name;role;time_zone\r\nKim@Example.org;Kim Lee;member;Europe/Berlin\r\n".encode()
    parsed = roster.read_roster(data)
    assert parsed.delimiter == ";"
    [row] = parsed.rows
    assert (row.email, row.name, row.role, row.time_zone, row.errors) == (
        "kim@example.org",
        "Kim Lee",
        "member",
        "Europe/Berlin",
        {},
    )


def test_an_explicit_delimiter_wins_over_detection():
    data = b"email\tname\nkim@example.org\tKim, the second\n"
    assert roster.read_roster(data, "\t").rows[0].name == "Kim, the second"
    with pytest.raises(roster.RosterRefused, match="delimiter"):
        roster.read_roster(data, "|")


def test_each_row_gets_each_of_its_own_errors():
    data = (
        HEADER + "not-an-email,Ann,member,UTC\n"
        "bo@example.org,,emperor,Mars/Base\n"
        "cy@example.org,Cy,member,UTC,extra\n"
        "Bo@example.org,Bo again,member,UTC\n"
        "dee@example.org," + "x" * 121 + ",,\n"
    ).encode()
    rows = roster.read_roster(data).rows
    assert [r.line for r in rows] == [2, 3, 4, 5, 6]
    assert set(rows[0].errors) == {"email"}
    assert set(rows[1].errors) == {"name", "role", "time_zone"}
    assert "emperor" in rows[1].errors["role"] and "Mars/Base" in rows[1].errors["time_zone"]
    assert "5 cells" in rows[2].errors["row"]
    assert rows[3].errors == {"email": "bo@example.org is already on line 3 of this file."}
    assert "120" in rows[4].errors["name"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not a CSV file"),
        ("email,name\nkim@example.org,Jürgen\n".encode("latin-1"), "not UTF-8"),
        (b"first,last\nKim,Lee\n", "missing: email, name"),
        (HEADER.encode(), "no people"),
        (b'email,name\n"kim@example.org,Kim\n', "cannot be read as CSV"),
    ],
)
def test_a_file_that_is_no_roster_is_refused_with_its_reason(content, message):
    with pytest.raises(roster.RosterRefused, match=message):
        roster.read_roster(content)


def test_more_than_ten_thousand_rows_are_refused_and_ten_thousand_are_read():
    rows = "".join(f"p{i}@example.org,Person {i},member,UTC\n" for i in range(roster.MAX_ROWS))
    assert len(roster.read_roster((HEADER + rows).encode()).rows) == roster.MAX_ROWS
    with pytest.raises(roster.RosterRefused, match="more than 10,000 people"):
        roster.read_roster((HEADER + rows + "one@example.org,One more,member,UTC\n").encode())


def test_a_file_over_the_size_cap_is_refused():
    with pytest.raises(roster.RosterRefused, match="larger than"):
        roster.read_roster((HEADER + "a@example.org,A,member,UTC\n").encode(), max_bytes=20)


# ------------------------------------------------------------------------------------------------ through the pages
def test_preview_then_confirm_stores_everyone_and_a_second_import_updates_by_email(client, login_as, make_user):
    admin = login_as("admin")
    known = make_user("member", email="known@example.org", name="Old Name", timezone="UTC")
    upload_id, page = _preview(
        client,
        HEADER + "new@example.org,New Person,instructor,Europe/Berlin\n"
        "KNOWN@example.org,Known Person,member,Asia/Tokyo\n"
        "plain@example.org,Plain Person,,\n",
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"].startswith("no-store")
    assert "<strong>2</strong> to add, <strong>1</strong> to update" in html
    assert "updated: name, time zone" in html
    assert set(_people()) == {admin.email, known.email}  # nothing stored before the confirmation

    done = _confirm(client, upload_id)
    assert done.status_code == 302
    people = _people()
    assert (people["new@example.org"].name, people["new@example.org"].role) == ("New Person", "instructor")
    assert people["new@example.org"].timezone == "Europe/Berlin"
    assert (people["plain@example.org"].role, people["plain@example.org"].timezone) == ("member", "UTC")
    assert (people["known@example.org"].name, people["known@example.org"].timezone) == ("Known Person", "Asia/Tokyo")
    assert people["known@example.org"].role == "member"
    assert "2 added, 1 updated, 0 unchanged" in client.get("/admin/users").get_data(as_text=True)
    # the preview is used up: confirming it again changes nothing
    assert _confirm(client, upload_id).status_code == 409

    upload_id, page = _preview(
        client,
        HEADER + "new@example.org,New Person,board_member,Europe/Berlin\nplain@example.org,Plain Person,,\n",
    )
    assert "<strong>0</strong> to add, <strong>1</strong> to update" in page.get_data(as_text=True)
    assert _confirm(client, upload_id).status_code == 302
    people = _people()
    assert people["new@example.org"].role == "board_member" and len(people) == 4
    actions = db.session.scalars(select(AuditEntry.action)).all()
    assert actions.count("user.create") == 2 and actions.count("user.import") == 2  # the factory sends no signal


def test_a_preview_with_any_error_lists_every_row_and_confirming_stores_nothing(client, login_as):
    admin = login_as("admin")
    upload_id, page = _preview(
        client, HEADER + "ok@example.org,Okay,member,UTC\nbad-address,Bad,member,UTC\nok2@example.org,Ok 2,chief,UTC\n"
    )
    html = page.get_data(as_text=True)
    assert "2 with errors" in html and "“bad-address” is not a valid email address." in html
    assert "“chief” is not a role" in html
    assert 'action="/admin/users/import/' not in html  # no confirm button
    refused = _confirm(client, upload_id)
    assert refused.status_code == 422 and "2 rows have errors" in refused.get_data(as_text=True)
    assert set(_people()) == {admin.email}


def test_the_admin_cannot_demote_themselves_by_import(client, login_as):
    admin = login_as("admin")
    upload_id, page = _preview(client, HEADER + f"{admin.email},{admin.name},member,UTC\n")
    assert "you cannot take the admin role from yourself" in page.get_data(as_text=True)
    assert _confirm(client, upload_id).status_code == 422
    assert _people()[admin.email].role == "admin"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x01\x02binary", "not a CSV file"),
        (b"\xff\xfe\x00e\x00m", "not a CSV file"),
        ("email,name\nx@example.org,Jörg\n".encode("cp1252"), "not UTF-8"),
        (b"", "empty"),
    ],
)
def test_an_upload_that_is_no_roster_is_answered_422_with_its_message(client, login_as, content, message):
    admin = login_as("admin")
    answer = _upload(client, content)
    assert answer.status_code == 422 and message in answer.get_data(as_text=True)
    assert set(_people()) == {admin.email}


def test_no_file_and_an_oversized_upload_get_their_message(client, login_as, make_app):
    login_as("admin")
    missing = client.post("/admin/users/import", data={}, content_type="multipart/form-data")
    assert missing.status_code == 422 and "Choose the CSV file" in missing.get_data(as_text=True)
    big = HEADER + "".join(f"p{i}@example.org,Person {i},member,UTC\n" for i in range(40_000))
    # the multipart body built here, as bytes: the test client would spool one this big to a file it never closes
    body = (
        b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n" + big.encode() + b"\r\n--b0undary--\r\n"
    )
    answer = client.post("/admin/users/import", data=body, content_type="multipart/form-data; boundary=b0undary")
    assert answer.status_code == 413 and "the most one upload may be" in answer.get_data(as_text=True)


def test_a_preview_belongs_to_the_admin_who_uploaded_it(client, app, login_as, make_user):
    login_as("admin")
    upload_id, _ = _preview(client, HEADER + "x@example.org,X,member,UTC\n")
    other = app.test_client()
    login_as(make_user("admin"), client=other)
    assert other.get(f"/admin/users/import/{upload_id}").status_code == 409
    assert other.post(f"/admin/users/import/{upload_id}").status_code == 409
    assert other.get("/admin/users/import/forged-id").status_code == 409
    assert db.session.scalar(select(func.count()).select_from(User).where(User.email == "x@example.org")) == 0


def test_the_import_is_one_transaction(client, login_as, monkeypatch):
    """A failure after some rows were written (the audit entry of the second person) leaves no one stored."""
    import portal.audit.receivers as audit_receivers

    admin = login_as("admin")
    upload_id, _ = _preview(client, HEADER + "a@example.org,A,member,UTC\nb@example.org,B,member,UTC\n")
    calls = []
    original = audit_receivers.record

    def fail_on_second(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return original(*args, **kwargs)

    monkeypatch.setattr(audit_receivers, "record", fail_on_second)
    assert _confirm(client, upload_id).status_code == 500
    assert set(_people()) == {admin.email}
    monkeypatch.setattr(audit_receivers, "record", original)
    assert _confirm(client, upload_id).status_code == 302  # the preview is still there to try again
    assert set(_people()) == {admin.email, "a@example.org", "b@example.org"}


@pytest.mark.slow  # ~15-30 s on a busy 2-core machine: 10,000 accounts and their audit entries
def test_ten_thousand_rows_preview_and_import(client, login_as):
    login_as("admin")
    rows = "".join(f"p{i}@example.org,Person {i},member,UTC\n" for i in range(roster.MAX_ROWS))
    upload_id, page = _preview(client, HEADER + rows)
    html = page.get_data(as_text=True)
    assert "<strong>10000</strong> to add" in html and "9500 more rows" in html
    assert _confirm(client, upload_id).status_code == 302
    assert db.session.scalar(select(func.count()).select_from(User)) == roster.MAX_ROWS + 1
    too_many = _upload(client, HEADER + rows + "z@example.org,Z,member,UTC\n")
    assert too_many.status_code == 422 and re.search(r"more than 10,000 people", too_many.get_data(as_text=True))
