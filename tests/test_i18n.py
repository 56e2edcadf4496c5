"""Languages (portal.core.i18n, docs/i18n.md): the German catalog is complete and compiled, a German user reads
German pages and emails, anonymous visitors get their browser's language or the footer switcher's, and times
follow the locale or the profile's clock."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask_babel import force_locale

from portal.accounts.models import User
from portal.core.timezones import format_local
from portal.extensions import db
from portal.notifications import operations
from tests.conftest import csrf_token

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "portal" / "translations"
GERMAN_PO = TRANSLATIONS / "de" / "LC_MESSAGES" / "messages.po"
GERMAN_MO = TRANSLATIONS / "de" / "LC_MESSAGES" / "messages.mo"


def page(response) -> str:
    return response.get_data(as_text=True)


def german(user: User) -> User:
    user.locale = "de"
    db.session.commit()
    return user


# ------------------------------------------------------------------------------------------------ the catalog
def _extract(tmp_path: Path) -> dict:
    """Every msgid the sources hold now (the same command docs/i18n.md gives)."""
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_l", "-k",
         "lazy_gettext", "--no-location", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with pot.open("rb") as f:
        return {m.id: m for m in read_po(f) if m.id}


def _plural_forms_filled(string) -> bool:
    return all(s.strip() for s in string) if isinstance(string, tuple) else bool(string and string.strip())


@pytest.mark.slow
def test_every_string_of_the_sources_has_a_german_translation(tmp_path):
    extracted = _extract(tmp_path)
    with GERMAN_PO.open("rb") as f:
        catalog = read_po(f, locale="de")
    problems = []
    for msgid in extracted:
        message = catalog.get(msgid)
        if message is None:
            problems.append(f"missing: {msgid!r}")
        elif message.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        elif not _plural_forms_filled(message.string):
            problems.append(f"untranslated: {msgid!r}")
    assert len(extracted) > 500  # the extraction found the templates and the Python sources
    assert not problems, "re-extract and translate (docs/i18n.md):\n" + "\n".join(problems)


def _key(value):
    return tuple(value) if isinstance(value, list | tuple) else value


def test_the_compiled_catalog_matches_its_source(tmp_path):
    """The committed messages.mo is what compiling messages.po gives now (a stale .mo shows old texts)."""
    fresh = tmp_path / "messages.mo"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "compile", "-i", str(GERMAN_PO), "-o", str(fresh),
         "-l", "de"],
        check=True, capture_output=True,
    )  # fmt: skip
    with fresh.open("rb") as f:
        expected = {_key(m.id): _key(m.string) for m in read_mo(f) if m.id}
    with GERMAN_MO.open("rb") as f:
        committed = {_key(m.id): _key(m.string) for m in read_mo(f) if m.id}
    assert committed == expected, "run: pybabel compile -d portal/translations"


def test_placeholders_survive_translation():
    """A translation names exactly the %(placeholders)s of its msgid (else rendering it raises KeyError)."""
    with GERMAN_PO.open("rb") as f:
        catalog = read_po(f, locale="de")
    names = re.compile(r"%\((\w+)\)[sd]")
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(names.findall(ids[-1])) | ({"num"} if len(ids) > 1 else set())
        for string in strings:
            assert set(names.findall(string)) <= wanted | set(names.findall(ids[0])), message.id
            assert set(names.findall(string)) >= set(names.findall(ids[0])) - {"num"}, message.id


# ------------------------------------------------------------------------------------------------ pages
def test_a_german_user_reads_german_pages(client, login_as, make_session, make_event):
    user = german(login_as("member"))
    event = make_event(title="Sommerlehrgang")
    session = make_session(start_in=timedelta(days=2), event=event, title="Kihon und Kata")
    home = page(client.get("/"))
    assert '<html lang="de"' in home
    assert "Anstehende Einheiten" in home and "Abmelden" in home and "Upcoming sessions" not in home
    detail = page(client.get(f"/sessions/{session.id}"))
    assert "Kihon und Kata" in detail
    assert "Platz reservieren" in detail  # the join panel
    assert "Die Teilnahme ist ab" in detail and "Joining opens" not in detail
    assert "Geplant" in detail  # the status badge
    profile = page(client.get("/account"))
    assert "Deine Einstellungen" in profile and "Einstellungen speichern" in profile
    assert user.locale == "de"


def test_a_german_form_error_is_german(client, login_as):
    german(login_as("member"))
    response = client.post("/account", data={"name": "", "timezone": "Europe/Berlin", "locale": "de",
                                            "csrf_token": csrf_token(client)})  # fmt: skip
    assert response.status_code == 422
    assert "Gib deinen Namen ein." in page(response) and "Enter your name." not in page(response)


def test_the_join_panel_counts_in_german_plurals(client, login_as, make_session, make_user, make_seat):
    german(login_as("member"))
    session = make_session(start_in=timedelta(days=2), capacity=None)
    make_seat(session, make_user("member"))
    assert "1 Platz belegt · unbegrenzt" in page(client.get(f"/sessions/{session.id}"))
    make_seat(session, make_user("member"))
    assert "2 Plätze belegt · unbegrenzt" in page(client.get(f"/sessions/{session.id}"))


def test_english_stays_the_default_with_correct_plurals(client, login_as, make_session, make_user, make_seat):
    instructor = login_as("instructor")
    session = make_session(instructor=instructor, start_in=timedelta(days=2))
    make_seat(session, make_user("member"))
    cancel = page(client.get(f"/sessions/{session.id}/cancel"))
    assert "1 person holds a seat; they are told by email and their seat is released." in cancel
    make_seat(session, make_user("member"))
    assert "2 people hold a seat" in page(client.get(f"/sessions/{session.id}/cancel"))
    assert '<html lang="en"' in page(client.get("/"))


def test_anonymous_visitors_get_their_browsers_language(client):
    assert "Anstehende Einheiten" in page(client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}))
    assert "Upcoming sessions" in page(client.get("/", headers={"Accept-Language": "fr-FR,fr;q=0.9"}))
    assert "Upcoming sessions" in page(client.get("/", headers={"Accept-Language": "en-US,de;q=0.5"}))


def test_the_footer_switcher_sets_the_language_and_returns(client, app):
    home = page(client.get("/events"))
    assert 'action="/language"' in home and ">Deutsch</button>" in home
    token = csrf_token(client)
    switched = client.post("/language", data={"language": "de", "next": "/events", "csrf_token": token})
    assert switched.status_code == 303 and switched.headers["Location"] == "/events"
    assert "Veranstaltungen" in page(client.get("/events", headers={"Accept-Language": "en"}))  # cookie > browser
    # an unknown language or a foreign target changes nothing and stays on the site
    odd = client.post("/language", data={"language": "xx", "next": "https://evil.example/", "csrf_token": token})
    assert odd.status_code == 303 and odd.headers["Location"] == "/"
    assert "Veranstaltungen" in page(client.get("/events"))


def test_the_switcher_also_stores_a_signed_in_persons_language(client, login_as):
    user = login_as("member")
    client.post("/language", data={"language": "de", "next": "/", "csrf_token": csrf_token(client)})
    db.session.expire_all()
    assert db.session.get(User, user.id).locale == "de"


def test_the_profile_language_wins_over_the_browser(client, login_as):
    german(login_as("member"))
    assert "Anstehende Einheiten" in page(client.get("/", headers={"Accept-Language": "en-US"}))


def test_api_messages_stay_english_for_a_german_user(api_client):
    api, user = api_client("member")
    german(user)
    response = api.get("/api/training/sessions/999999")
    assert response.status_code == 404
    assert re.search(r"[A-Za-z]", response.get_json()["error"]["message"])
    assert "nicht" not in response.get_json()["error"]["message"]


# ------------------------------------------------------------------------------------------------ dates and times
MOMENT = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)


def test_times_follow_the_locale_and_the_profiles_clock(app):
    with app.test_request_context("/"):
        with force_locale("en_US"):
            assert format_local(MOMENT, "UTC", "time") == "7:00 PM UTC"
            assert format_local(MOMENT, "UTC") == "Tue, Nov 24, 2026, 7:00 PM UTC"
        with force_locale("en"):
            assert format_local(MOMENT, "UTC") == "Tue 24 Nov 2026, 19:00 UTC"
            assert format_local(MOMENT, "UTC", "time", hour_cycle="12") == "7:00 PM UTC"
        with force_locale("de"):
            assert format_local(MOMENT, "Europe/Berlin") == "Di., 24. Nov. 2026, 20:00 CET"
        with force_locale("en_US"):
            assert format_local(MOMENT, "UTC", "time", hour_cycle="24") == "19:00 UTC"


def test_pages_show_the_clock_of_the_browser_region_or_the_profile(client, login_as, make_session):
    user = login_as("member", timezone="UTC")
    start = (datetime.now(UTC) + timedelta(days=2)).replace(hour=19, minute=0, second=0, microsecond=0)
    session = make_session(start_time=start)
    url = f"/sessions/{session.id}"
    assert "19:00 UTC" in page(client.get(url))
    assert "7:00 PM UTC" in page(client.get(url, headers={"Accept-Language": "en-US"}))  # the region's clock
    user.hour_cycle = "24"
    db.session.commit()
    shown = page(client.get(url, headers={"Accept-Language": "en-US"}))
    assert "19:00 UTC" in shown and "7:00 PM" not in shown  # the profile's choice wins
    user.hour_cycle = "12"
    db.session.commit()
    assert "7:00 PM UTC" in page(client.get(url))


# ------------------------------------------------------------------------------------------------ emails
@pytest.mark.usefixtures("mail_app")
def test_a_german_recipient_gets_a_german_reminder(make_session, make_user, make_seat, run_jobs, smtp_sink, clock):
    from portal.core.queue import enqueue
    from portal.notifications.jobs import sweep_reminders

    session = make_session(start_in=timedelta(days=2), title="Kumite am Abend")
    member = make_user("member", timezone="Europe/Berlin")
    member.locale, member.hour_cycle = "de", None
    english = make_user("member")
    make_seat(session, member)
    make_seat(session, english)
    operations.plan_reminders(session)
    db.session.commit()
    clock.at(session.start_time - timedelta(hours=1) + timedelta(seconds=20))
    enqueue(sweep_reminders)
    run_jobs()
    by_address = {m["To"].addresses[0].addr_spec: m for m in smtp_sink.messages}
    mail = by_address[member.email]
    assert mail["Subject"] == "Erinnerung: Kumite am Abend beginnt in 1 Stunde"
    text = mail.get_body(("plain",)).get_content()
    assert "Hallo " in text and "Zur Erinnerung: Deine Trainingseinheit beginnt in 1 Stunde." in text
    assert re.search(r"\b\d{1,2}\. \w+\.? \d{4}, \d\d:\d\d (CET|CEST)", text)  # the German date, Berlin's zone
    html = mail.get_body(("html",)).get_content()
    assert '<html lang="de">' in html and "Seite der Einheit öffnen" in html
    assert by_address[english.email]["Subject"] == "Reminder: Kumite am Abend starts in 1 hour"


@pytest.mark.usefixtures("mail_app")
def test_a_german_recipient_gets_a_german_password_reset_email(client, make_user, run_jobs, smtp_sink):
    user = make_user(email="greta@example.org")
    user.locale = "de"
    db.session.commit()
    # asked from an English browser: the email is in the recipient's language all the same
    client.post("/password-reset", data={"email": "greta@example.org"}, headers={"Accept-Language": "en"})
    run_jobs()
    [mail] = smtp_sink.messages
    assert mail["Subject"] == "Setze dein Passwort zurück"
    text = mail.get_body(("plain",)).get_content()
    assert "Wähle hier ein neues Passwort:" in text and "Der Link funktioniert einmal, bis" in text
    assert "Reset" not in text
