"""Instructor profile pages (issue 14): who sees /instructors/<id>, what it shows, and the bio and photo form of
/account (owner only; admins may remove a photo; CSRF; bad uploads refused with nothing stored)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from portal.accounts.models import User
from portal.audit.models import AuditEntry
from portal.core import uploads
from portal.extensions import db
from portal.training.models import SessionAssistant


def png(size=(900, 700)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 60)).save(out, "PNG")
    return out.getvalue()


def stored_photos() -> set[str]:
    folder = uploads.folder("photos")
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def main_of(response) -> str:
    html = response.get_data(as_text=True)
    return html[html.index("<main") : html.index("</main>")]


def multipart(form: dict) -> dict:
    """The body built in memory (the test client spools a big one to a temporary file it never closes)."""
    boundary, body = encode_multipart(form)
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def upload(client, data: bytes | None, bio: str = "Teaches kata.", **extra):
    form = {"bio": bio, **extra}
    if data is not None:
        form["photo"] = FileStorage(io.BytesIO(data), filename="me.png", content_type="image/png")
    return client.post("/account/profile-page", **multipart(form))


# ------------------------------------------------------------------------------------------------ who sees a page
def test_an_instructor_with_a_public_session_has_a_public_page(client, make_user, make_session):
    teacher = make_user("instructor", name="Kenji Ito")
    make_session(instructor=teacher, is_public=True, title="Open kata")
    make_session(instructor=teacher, is_public=False, title="Members randori")
    page = client.get(f"/instructors/{teacher.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Kenji Ito" in html and "Open kata" in html
    assert "Members randori" not in html  # the sessions listed are those the viewer may see


def test_an_instructor_of_members_only_sessions_is_seen_by_members_only(client, login_as, make_user, make_session):
    teacher = make_user("instructor")
    session = make_session(instructor=teacher, is_public=False, title="Members randori")
    missing = client.get("/instructors/999999")
    hidden = client.get(f"/instructors/{teacher.id}")
    assert hidden.status_code == missing.status_code == 404
    # nothing tells them apart but the way back after signing in
    assert main_of(hidden) == main_of(missing).replace("/instructors/999999", f"/instructors/{teacher.id}")
    login_as("public")
    assert client.get(f"/instructors/{teacher.id}").status_code == 404
    login_as("member")
    html = client.get(f"/instructors/{teacher.id}").get_data(as_text=True)
    assert "Members randori" in html and f"/sessions/{session.id}" in html


def test_an_assistant_has_a_page_through_the_sessions_they_assist(client, make_user, make_session):
    lead, helper = make_user("instructor"), make_user("instructor")
    session = make_session(instructor=lead, is_public=True, title="Open kata")
    db.session.add(SessionAssistant(session_id=session.id, user_id=helper.id))
    db.session.commit()
    html = client.get(f"/instructors/{helper.id}").get_data(as_text=True)
    assert "Open kata" in html and "Assisting" in html


def test_a_page_without_sessions_is_seen_by_its_owner_and_admins_only(client, login_as, make_user):
    teacher = make_user("instructor")
    login_as("member")
    assert client.get(f"/instructors/{teacher.id}").status_code == 404
    login_as("admin")
    assert client.get(f"/instructors/{teacher.id}").status_code == 200
    login_as(teacher)
    html = client.get(f"/instructors/{teacher.id}").get_data(as_text=True)
    assert "No upcoming sessions" in html and "Edit your photo and bio" in html


def test_a_deactivated_person_has_no_page(client, make_user, make_session):
    teacher = make_user("instructor", is_active=False)
    make_session(instructor=teacher, is_public=True)
    assert client.get(f"/instructors/{teacher.id}").status_code == 404


def test_past_and_canceled_sessions_are_not_listed_but_a_past_one_still_opens_the_page(client, make_user, make_session):
    teacher = make_user("instructor")
    make_session(instructor=teacher, is_public=True, start_in=-timedelta(days=3), title="Old class", status="ended")
    make_session(instructor=teacher, is_public=True, title="Dropped class", status="canceled")
    page = client.get(f"/instructors/{teacher.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Old class" not in html and "Dropped class" not in html and "No upcoming sessions" in html


def test_the_bio_is_escaped_plain_text_with_its_line_breaks(client, make_user, make_session):
    teacher = make_user("instructor")
    teacher.bio = "5th dan.\nTeaches <b>kata</b> & <script>alert(1)</script>"
    db.session.commit()
    make_session(instructor=teacher, is_public=True)
    html = client.get(f"/instructors/{teacher.id}").get_data(as_text=True)
    assert '<div class="description bio">5th dan.\nTeaches &lt;b&gt;kata&lt;/b&gt; &amp; &lt;script&gt;' in html
    assert "<script>alert" not in html


# ------------------------------------------------------------------------------------------------ editing
def test_an_instructor_sets_bio_and_photo_and_the_page_shows_them(client, login_as):
    teacher = login_as("instructor")
    assert 'id="instructor-profile"' in client.get("/account").get_data(as_text=True)
    response = upload(client, png(), bio="  5th dan.\r\nTeaches kata.  \r\n\r\n")
    assert response.status_code == 302 and response.headers["Location"].endswith("/account#instructor-profile")
    db.session.refresh(teacher)
    assert teacher.bio == "5th dan.\nTeaches kata." and teacher.photo in stored_photos()
    with client.get(f"/uploads/photos/{teacher.photo}") as photo:
        assert photo.mimetype == "image/png"
        with Image.open(io.BytesIO(photo.data)) as image:
            assert max(image.size) == 512  # scaled down from 900 x 700
    html = client.get(f"/instructors/{teacher.id}").get_data(as_text=True)
    assert f'src="/uploads/photos/{teacher.photo}"' in html and f'alt="Photo of {teacher.name}"' in html

    old = teacher.photo
    assert upload(client, png((100, 100))).status_code == 302  # a new photo replaces the old one, whose file goes
    db.session.refresh(teacher)
    assert teacher.photo != old and old not in stored_photos() and teacher.photo in stored_photos()

    assert upload(client, None, remove_photo="on").status_code == 302
    db.session.refresh(teacher)
    assert teacher.photo is None and teacher.bio == "Teaches kata."


def test_members_have_no_profile_form(client, login_as):
    login_as("member")
    assert 'id="instructor-profile"' not in client.get("/account").get_data(as_text=True)
    assert upload(client, png()).status_code == 403


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not an image", "The file is not an image"),
        (png()[:300], "damaged or cut short"),
        (b"GIF89a" + b"\0" * 100, "not an image"),
    ],
)
def test_a_bad_photo_is_refused_on_the_form_and_nothing_is_stored(client, login_as, data, message):
    teacher = login_as("instructor")
    before = stored_photos()
    response = upload(client, data, bio="New bio")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and 'id="e-photo"' in html and "New bio" in html  # the bio typed is kept on the form
    db.session.refresh(teacher)
    assert teacher.photo is None and teacher.bio == "" and stored_photos() == before


def test_a_photo_over_the_cap_gets_the_form_message_and_a_huge_one_too(client, login_as):
    teacher = login_as("instructor")
    before = stored_photos()
    over_cap = upload(client, b"\x89PNG" + b"\0" * (2 * 1024 * 1024 + 10))  # over 2 MB, within the body cap
    assert over_cap.status_code == 422 and "larger than 2 MB" in over_cap.get_data(as_text=True)
    huge = upload(client, b"\x89PNG" + b"\0" * (10 * 1024 * 1024))  # over the request cap: 413, the same form
    assert huge.status_code == 413
    html = huge.get_data(as_text=True)
    assert "larger than 2 MB" in html and 'id="instructor-profile"' in html
    db.session.refresh(teacher)
    assert teacher.photo is None and stored_photos() == before


def test_the_upload_cap_is_for_upload_forms_only(client, login_as):
    login_as("instructor")
    response = client.post("/account", data={"name": "x" * (1024 * 1024 + 10)})
    assert response.status_code == 413  # MAX_REQUEST_BYTES still holds everywhere else


def test_a_bio_too_long_stores_neither_bio_nor_photo(client, login_as):
    teacher = login_as("instructor")
    before = stored_photos()
    response = upload(client, png(), bio="x" * 2001)
    assert response.status_code == 422 and "Keep the bio to 2000 characters" in response.get_data(as_text=True)
    db.session.refresh(teacher)
    assert teacher.photo is None and stored_photos() == before


def test_only_the_owner_or_an_admin_removes_a_photo(client, login_as, make_user, make_session):
    teacher = login_as("instructor")
    upload(client, png())
    db.session.refresh(teacher)
    photo = teacher.photo
    make_session(instructor=teacher, is_public=True)

    other = login_as("instructor")
    assert "Remove this photo" not in client.get(f"/instructors/{teacher.id}").get_data(as_text=True)
    assert client.post(f"/instructors/{teacher.id}/photo/delete").status_code == 403
    login_as("board_member")
    assert client.post(f"/instructors/{teacher.id}/photo/delete").status_code == 403
    db.session.refresh(teacher)
    assert teacher.photo == photo and photo in stored_photos() and other.photo is None

    admin = login_as("admin")
    assert "Remove this photo" in client.get(f"/instructors/{teacher.id}").get_data(as_text=True)
    assert client.post(f"/instructors/{teacher.id}/photo/delete").status_code == 302
    db.session.refresh(teacher)
    assert teacher.photo is None and photo not in stored_photos()
    entry = db.session.query(AuditEntry).filter_by(action="user.photo_removed").one()
    assert entry.actor_id == admin.id
    assert client.post("/instructors/999999/photo/delete").status_code == 404


def test_anonymous_visitors_cannot_post_to_the_profile_routes(client, make_user):
    teacher = make_user("instructor")
    assert upload(client, png()).status_code in (302, 401)
    assert client.post(f"/instructors/{teacher.id}/photo/delete").status_code in (302, 401)
    assert db.session.get(User, teacher.id).photo is None


def test_the_profile_forms_need_the_csrf_token(make_app, make_user):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    from tests.conftest import sign_in

    teacher = make_user("instructor")
    sign_in(client, teacher)
    response = upload(client, png())
    assert response.status_code == 400 and "csrf" in response.get_data(as_text=True).lower()
    assert client.post(f"/instructors/{teacher.id}/photo/delete").status_code == 400
