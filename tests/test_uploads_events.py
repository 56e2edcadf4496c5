"""Event images (issue 14): on the event form with a required alt text, on the event page and in its JSON; bad
uploads refused with the form's message and nothing stored."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from portal.audit.models import AuditEntry
from portal.core import uploads
from portal.events.models import Event
from portal.extensions import db

FORM = {
    "title": "Winter seminar",
    "description": "Two days of kata.",
    "location": "Dojo",
    "visibility": "public",
    "timezone": "Europe/Berlin",
    "start_date": "2027-01-10",
    "start_clock": "10:00",
    "end_date": "2027-01-11",
    "end_clock": "16:00",
}


def jpeg(size=(2400, 1200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 60, 200)).save(out, "JPEG")
    return out.getvalue()


def stored() -> set[str]:
    folder = uploads.folder("events")
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def post(client, url: str, image: bytes | None = None, **fields):
    form = {**FORM, **fields}
    if image is not None:
        form["image"] = FileStorage(io.BytesIO(image), filename="seminar.jpg", content_type="image/jpeg")
    boundary, body = encode_multipart(form)
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_an_event_with_an_image_shows_it_with_its_alt_text_and_in_its_json(client, login_as):
    login_as("board_member")
    response = post(client, "/events/new", jpeg(), image_alt="Students  practising\tkata in the hall")
    assert response.status_code == 302
    event = db.session.query(Event).filter_by(title="Winter seminar").one()
    assert event.image in stored() and event.image_alt == "Students practising kata in the hall"
    with client.get(f"/uploads/events/{event.image}") as image:
        assert image.mimetype == "image/jpeg"
        with Image.open(io.BytesIO(image.data)) as opened:
            assert opened.size == (1600, 800)
    html = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert f'src="/uploads/events/{event.image}" alt="Students practising kata in the hall"' in html
    body = client.get(f"/api/events/{event.id}").json
    assert body["image_url"] == f"/uploads/events/{event.image}" and body["image_alt"] == event.image_alt
    assert db.session.query(AuditEntry).filter_by(action="event.image", entity_id=event.id).count() == 1


def test_an_image_needs_its_alt_text_and_nothing_is_stored_without_it(client, login_as):
    login_as("board_member")
    before = stored()
    response = post(client, "/events/new", jpeg(), image_alt="  ")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Describe the image for people who cannot see it" in html and 'value="Winter seminar"' in html
    assert db.session.query(Event).count() == 0 and stored() == before


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (b"MZ\x90\x00 an executable", "The file is not an image"),
        (jpeg()[:700], "damaged or cut short"),
    ],
)
def test_a_bad_image_is_refused_on_the_form_and_nothing_is_stored(client, login_as, image, message):
    login_as("board_member")
    before = stored()
    response = post(client, "/events/new", image, image_alt="A picture")
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert db.session.query(Event).count() == 0 and stored() == before


def test_a_10_mb_upload_gets_the_form_with_its_message(client, login_as, make_event):
    login_as("board_member")
    before = stored()
    response = post(client, "/events/new", b"\xff\xd8" + b"\0" * (10 * 1024 * 1024), image_alt="Big")
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "The image is larger than 2 MB" in html and 'id="event-image"' in html
    event = make_event(title="Kept")
    response = post(client, f"/events/{event.id}/edit", b"\xff\xd8" + b"\0" * (10 * 1024 * 1024), image_alt="Big")
    assert response.status_code == 413 and 'value="Kept"' in response.get_data(as_text=True)
    assert db.session.query(Event).count() == 1 and stored() == before


def test_editing_keeps_replaces_and_removes_the_image(client, login_as, make_event):
    login_as("board_member")
    event = make_event(title="Camp")
    edit = f"/events/{event.id}/edit"
    assert post(client, edit, jpeg((300, 200)), title="Camp", image_alt="The camp").status_code == 302
    db.session.refresh(event)
    first = event.image
    # an edit without a file keeps the image; clearing its alt text is refused while it stays
    assert post(client, edit, title="Camp", image_alt="The camp at dusk").status_code == 302
    db.session.refresh(event)
    assert (event.image, event.image_alt) == (first, "The camp at dusk")
    response = post(client, edit, title="Camp", image_alt="")
    assert response.status_code == 422 and "Describe the image" in response.get_data(as_text=True)
    # a new file replaces the old one, whose file goes
    assert post(client, edit, jpeg((200, 200)), title="Camp", image_alt="New").status_code == 302
    db.session.refresh(event)
    assert event.image != first and first not in stored() and event.image in stored()
    second = event.image
    # removing it needs no alt text and clears it
    assert post(client, edit, title="Camp", image_alt="", remove_image="on").status_code == 302
    db.session.refresh(event)
    assert (event.image, event.image_alt) == (None, "") and second not in stored()
    assert client.get(f"/api/events/{event.id}").json["image_url"] is None


def test_only_board_members_upload_event_images(client, login_as, make_event):
    event = make_event()
    login_as("instructor")
    assert post(client, "/events/new", jpeg(), image_alt="x").status_code == 403
    assert post(client, f"/events/{event.id}/edit", jpeg(), image_alt="x").status_code == 403
    assert db.session.get(Event, event.id).image is None


def test_the_event_form_needs_the_csrf_token(make_app, make_user):
    from tests.conftest import sign_in

    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    sign_in(client, make_user("board_member"))
    response = post(client, "/events/new", jpeg((100, 100)), image_alt="x")
    assert response.status_code == 400 and "csrf" in response.get_data(as_text=True).lower()
