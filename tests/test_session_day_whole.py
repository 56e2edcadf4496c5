"""The whole session day of issue 12 (its Tests section), as one story with a moved clock, the fake Cloudflare
RealtimeKit server over HTTP (tests/plugins/realtimekit_fake.py), the real test Redis with a real rq worker
(`run_jobs`) and the real SMTP sink: every step a person takes goes through the portal's HTTP routes; the cron's
minute jobs (portal/schedule.py) run as the cron would enqueue them.

An instructor schedules a recorded session (2 seats, no-shows' seats released); Aiko and Ben book, Chloe waits.
The reminders come once each, the instructor is late (the waiting see it, instructors and board get one email),
starts, Aiko joins, Ben never comes and his seat goes to Chloe 5 minutes after the start, the instructor ends,
Aiko's room learns of the end and lands on the ended page, the recording becomes ready (one email each), Aiko's
training log counts her minutes, members watch the recording and nobody else does. Every email is counted per
person and kind: none missing, none twice.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections import Counter
from datetime import timedelta

import pytest
from icalendar import Calendar

from portal.core.queue import enqueue
from portal.extensions import db
from portal.seats.attendance import attendance_rows
from portal.seats.models import Seat
from portal.training.models import TrainingSession
from tests.conftest import sign_in

LATE_TEXT = "The instructor is running late and has been told."
RECORDING_NOTE = 'The recording will be listed in <a href="/recordings">Recordings</a>'
MINUTE_JOBS = (
    "portal.training.rooms.sweep_rooms",
    "portal.notifications.jobs.sweep_reminders",
    "portal.training.jobs.sweep_auto_end",
    "portal.seats.jobs.release_no_shows",
)
SUBJECTS = {  # the subject's prefix -> the notification kind (portal/notifications/emails.py _subject)
    "Seat confirmed:": "seat_reserved",
    "On the waitlist:": "seat_waitlisted",
    "Seat canceled:": "seat_canceled",
    "You have a seat:": "promoted",
    "Starting now:": "starting_now",
    "Not started yet:": "instructor_late",
    "Did not take place:": "not_started",
    "Recording ready:": "recording_ready",
    "New instructor:": "lead_changed",
    "Your seat went to the waitlist:": "no_show_released",
}


def _kind(message) -> str:
    subject = str(message["Subject"])
    reminder = re.match(r"Reminder: .* starts in (\d+) (hour|minute)s?$", subject)
    if reminder:
        return f"reminder_{reminder.group(1)}{reminder.group(2)[0]}"
    return next(kind for prefix, kind in SUBJECTS.items() if subject.startswith(prefix))


def _received(sink) -> Counter:
    """(recipient, kind) -> how many emails, of everything the sink got so far."""
    return Counter((m["To"].addresses[0].addr_spec, _kind(m)) for m in sink.messages)


def _ics_method(message) -> str | None:
    parts = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    if not parts:
        return None
    [part] = parts
    return str(Calendar.from_ical(part.get_payload(decode=True))["METHOD"])


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def _reload(session_id: int) -> TrainingSession:
    db.session.expire_all()
    return db.session.get(TrainingSession, session_id)


@pytest.fixture
def day_app(cloudflare_app, smtp_sink):
    """The cloudflare app (fake RealtimeKit) sending its mail through the SMTP sink (its own app: nothing to undo)."""
    settings = cloudflare_app.extensions["portal.settings"]
    cloudflare_app.extensions["portal.settings"] = dataclasses.replace(settings, **smtp_sink.settings)
    return cloudflare_app


@pytest.fixture
def people(day_app, make_user):
    """Signed-in clients (CSRF token sent the way htmx sends it) and their users; `anonymous` signs in as nobody."""

    def client_for(user):
        c = day_app.test_client()
        if user is not None:
            sign_in(c, user)
        token = re.search(r'"X-CSRFToken": "([^"]+)"', c.get("/").get_data(as_text=True)).group(1)
        c.environ_base["HTTP_X_CSRFTOKEN"] = token
        return c

    users = {
        "sensei": make_user("instructor", name="Sensei Kano"),
        "board": make_user("board_member", name="Board Bea"),
        "admin": make_user("admin", name="Admin Ada"),
        "aiko": make_user("member", name="Aiko"),
        "ben": make_user("member", name="Ben"),
        "chloe": make_user("member", name="Chloe"),
        "pat": make_user("public", name="Pat Public"),
    }
    out = {name: (user, client_for(user)) for name, user in users.items()}
    out["anonymous"] = (None, client_for(None))
    return out


@pytest.fixture
def minute(run_jobs):
    """What the cron's minute does: enqueue the minute jobs, then the worker runs them (and what they enqueue)."""

    def go():
        for func in MINUTE_JOBS:
            enqueue(func)
        run = run_jobs()
        assert run.failed == [], [job.exc_info for job in run.failed]
        return run

    return go


def live_the_day(people, fake_rtk, clock, smtp_sink, minute, run_jobs) -> dict:
    """The day, step by step, asserting as it goes; returns what the end needs to check."""
    (sensei, sensei_c), (board, _) = people["sensei"], people["board"]
    (aiko, aiko_c), (ben, ben_c), (chloe, chloe_c) = people["aiko"], people["ben"], people["chloe"]
    start = clock.now() + timedelta(days=2)

    def new_mail() -> Counter:
        seen = _received(smtp_sink) - new_mail.before
        new_mail.before = _received(smtp_sink)
        return seen

    new_mail.before = Counter()

    # ---- the instructor schedules a recorded session with 2 seats, no-shows' seats released
    created = sensei_c.post(
        "/api/training/sessions",
        json={
            "title": "Randori day",
            "start_time": start.isoformat(),
            "duration_minutes": 60,
            "capacity": 2,
            "recording_enabled": True,
            "release_no_shows": True,
            "members_only": True,
        },
    )
    assert created.status_code == 201, created.get_json()
    session_id = created.get_json()["id"]
    assert created.get_json()["release_no_shows"] is True

    # ---- Aiko books, Ben takes the last seat, Chloe is waitlisted (the panel's form posts)
    assert aiko_c.post(f"/sessions/{session_id}/seat", data={}).status_code == 303
    assert ben_c.post(f"/sessions/{session_id}/seat", data={}).status_code == 303
    waitlisted = chloe_c.post(f"/sessions/{session_id}/seat", data={"waitlist": "1"}, headers={"HX-Request": "true"})
    assert "You are on the waitlist (place 1)." in waitlisted.get_data(as_text=True)
    run_jobs()
    assert new_mail() == Counter(
        {(aiko.email, "seat_reserved"): 1, (ben.email, "seat_reserved"): 1, (chloe.email, "seat_waitlisted"): 1}
    )
    by_kind = {(_kind(m), m["To"].addresses[0].addr_spec): m for m in smtp_sink.messages}
    assert _ics_method(by_kind[("seat_reserved", aiko.email)]) == "REQUEST"
    assert _ics_method(by_kind[("seat_waitlisted", chloe.email)]) == "REQUEST"
    minute()  # nothing is due yet (and the sweep sends no confirmation twice)
    assert new_mail() == Counter()

    # ---- the reminders: 24 h, 1 h, 10 min before, to the seat holders and the instructor, once each
    holders = (aiko.email, ben.email, sensei.email)
    for before, kind in ((timedelta(hours=24), "reminder_24h"), (timedelta(hours=1), "reminder_1h")):
        clock.at(start - before - timedelta(minutes=1))
        minute()
        assert new_mail() == Counter(), f"{kind} went out early"
        clock.at(start - before + timedelta(seconds=30))
        minute()
        minute()  # the next minute sends nothing again
        assert new_mail() == Counter({(email, kind): 1 for email in holders}), kind
    clock.at(start - timedelta(minutes=10) + timedelta(seconds=30))
    minute()
    minute()
    assert new_mail() == Counter({(email, "reminder_10m"): 1 for email in holders})
    session = _reload(session_id)
    assert session.room_status == "ready" and list(fake_rtk.meetings) == [session.room_id]
    room_id = session.room_id

    # ---- Aiko waits in the waiting room; at start + 5 min the instructor has not started
    clock.at(start + timedelta(minutes=4))
    minute()
    waiting = aiko_c.get(f"/sessions/{session_id}/join/status", headers={"HX-Request": "true"})
    assert waiting.status_code == 200 and LATE_TEXT not in waiting.get_data(as_text=True)
    assert new_mail() == Counter()
    clock.at(start + timedelta(minutes=5, seconds=10))
    minute()
    minute()
    assert _reload(session_id).late_notice_at is not None
    assert new_mail() == Counter({(sensei.email, "instructor_late"): 1, (board.email, "instructor_late"): 1})
    clock.shift(timedelta(seconds=2))
    waiting = aiko_c.get(f"/sessions/{session_id}/join/status", headers={"HX-Request": "true"})
    assert LATE_TEXT in waiting.get_data(as_text=True)
    assert LATE_TEXT in aiko_c.get(f"/sessions/{session_id}/join").get_data(as_text=True)

    # ---- the instructor starts (the recording starts); Aiko joins and the provider says she is in
    clock.at(start + timedelta(minutes=6))
    assert sensei_c.post(f"/sessions/{session_id}/start").status_code in (302, 303)
    session = _reload(session_id)
    assert session.status == "live" and session.recording_status == "recording"
    fake_rtk.start_live(room_id)
    room = aiko_c.post(f"/sessions/{session_id}/join")
    assert room.status_code == 200, room.get_data(as_text=True)[-1000:]
    room_html = room.get_data(as_text=True)
    assert f'data-ended-url="/sessions/{session_id}/ended"' in room_html
    joined_at = clock.now()
    joined = fake_rtk.participant_event("meeting.participantJoined", room_id, aiko.id, at=joined_at, name="Aiko")
    assert fake_rtk.send_webhook(aiko_c, joined).status_code == 200
    minute()
    assert new_mail() == Counter()  # nothing for anyone at the start (the 10-minute reminder said it)

    # ---- Ben never comes: 5 minutes after going live (start + 6 min) his seat goes to Chloe, not before
    clock.at(start + timedelta(minutes=10, seconds=50))
    minute()
    assert db.session.query(Seat).filter_by(session_id=session_id, user_id=ben.id).one().status == "confirmed"
    clock.at(start + timedelta(minutes=11, seconds=10))
    minute()
    assert {s.user_id: s.status for s in db.session.query(Seat).filter_by(session_id=session_id)} == {
        aiko.id: "confirmed",
        ben.id: "canceled",
        chloe.id: "confirmed",
    }
    assert _reload(session_id).seats_taken == 2
    minute()  # once only
    mail = new_mail()
    assert mail[(chloe.email, "promoted")] == 1 and mail[(ben.email, "no_show_released")] == 1
    # Chloe's seat came after the start: the promotion is her one message ("starting now" is for seats taken in
    # the 10 minutes before the start, portal/notifications/operations.py notify_starting_now)
    assert mail == Counter({(chloe.email, "promoted"): 1, (ben.email, "no_show_released"): 1})

    # ---- the instructor ends at start + 52 min: Aiko's room learns of it and she lands on the ended page
    state_url = re.search(r'data-state-url="([^"]+)"', room_html).group(1)
    before_end = aiko_c.get(state_url, headers={"HX-Request": "true"})
    assert 'data-reason=""' in before_end.get_data(as_text=True)
    clock.at(start + timedelta(minutes=52))
    fake_rtk.start_live(room_id)
    assert sensei_c.post(f"/sessions/{session_id}/end").status_code in (302, 303)
    session = _reload(session_id)
    assert session.status == "ended" and session.recording_status == "uploading"
    clock.shift(timedelta(seconds=2))
    after_end = aiko_c.get(state_url, headers={"HX-Request": "true", "If-None-Match": before_end.headers["ETag"]})
    assert after_end.status_code == 200 and 'data-reason="ended"' in after_end.get_data(as_text=True)
    ended = aiko_c.get(f"/sessions/{session_id}/ended")
    assert ended.status_code == 200 and ended.headers["Cache-Control"].startswith("no-store")
    assert "This session has ended." in _text(ended) and RECORDING_NOTE in _text(ended)
    run_jobs()
    assert new_mail() == Counter()

    # ---- attendance: Aiko attended; Ben is a no-show, and so is Chloe, who held a seat and never came
    rows = {row.name: (row.status, row.minutes) for row in attendance_rows(_reload(session_id))}
    assert rows == {"Aiko": ("attended", 46), "Ben": ("no_show", 0), "Chloe": ("no_show", 0)}

    # ---- the provider uploads; its webhook makes the recording ready
    clock.at(start + timedelta(minutes=70))
    fake_rtk.complete_upload(session.recording_id)
    assert fake_rtk.send_webhook(aiko_c, fake_rtk.recording_event(session.recording_id)).status_code == 200
    assert _reload(session_id).recording_status == "ready"
    run_jobs()
    minute()
    # a second delivery of the same webhook changes nothing
    assert fake_rtk.send_webhook(aiko_c, fake_rtk.recording_event(session.recording_id)).status_code == 200
    run_jobs()
    return {"session_id": session_id, "ready_mail": new_mail(), "start": start}


def test_the_whole_session_day(people, fake_rtk, clock, smtp_sink, minute, run_jobs):
    day = live_the_day(people, fake_rtk, clock, smtp_sink, minute, run_jobs)
    session_id = day["session_id"]
    (aiko, aiko_c), (ben, ben_c), (chloe, _) = people["aiko"], people["ben"], people["chloe"]

    # one "recording ready" email per confirmed seat holder at the end (Aiko, and Chloe, a no-show): nothing else
    ready = day["ready_mail"]
    assert ready[(aiko.email, "recording_ready")] == 1 and ready[(chloe.email, "recording_ready")] == 1
    assert all(count == 1 for count in ready.values()) and {kind for _, kind in ready} == {"recording_ready"}
    assert set(ready) - {(ben.email, "recording_ready")} == {
        (aiko.email, "recording_ready"),
        (chloe.email, "recording_ready"),
    }

    [ready_mail] = [m for m in smtp_sink.messages if _kind(m) == "recording_ready" and aiko.email in str(m["To"])]
    ready_text = ready_mail.get_body(("plain",)).get_content()
    assert "/recordings" in ready_text and fake_rtk.url not in ready_text  # the portal's way, never the provider's
    [promoted] = [m for m in smtp_sink.messages if _kind(m) == "promoted"]
    assert _ics_method(promoted) == "REQUEST"
    # promoted while the session is live: told to join now, not as if it were still ahead
    for part in ("plain", "html"):
        assert "The session is live now: join it from the session page." in promoted.get_body((part,)).get_content()

    # ---- the whole day's mail, per person and kind: none missing, none twice
    sensei, board, admin, pat = (people[n][0] for n in ("sensei", "board", "admin", "pat"))
    reminders = ("reminder_24h", "reminder_1h", "reminder_10m")
    expected = Counter(
        {
            (aiko.email, "seat_reserved"): 1,
            (ben.email, "seat_reserved"): 1,
            (chloe.email, "seat_waitlisted"): 1,
            **{(email, kind): 1 for email in (aiko.email, ben.email, sensei.email) for kind in reminders},
            (sensei.email, "instructor_late"): 1,
            (board.email, "instructor_late"): 1,
            (chloe.email, "promoted"): 1,
            (ben.email, "no_show_released"): 1,
            (aiko.email, "recording_ready"): 1,
            (chloe.email, "recording_ready"): 1,
        }
    )
    received = _received(smtp_sink) - Counter({(ben.email, "recording_ready"): 1})  # see the test below
    assert received == expected
    assert not any(email in (admin.email, pat.email) for email, _ in _received(smtp_sink))

    # ---- Aiko's training log counts her minutes (joined at start + 6, the end at start + 52)
    log = aiko_c.get("/my/training-log.csv")
    assert log.status_code == 200
    rows = list(csv.reader(io.StringIO(log.get_data().decode("utf-8-sig"))))
    assert rows[0][3:] == ["session", "tags", "instructor", "minutes", "joins"]
    assert rows[1][3:] == ["Randori day", "", "Sensei Kano", "46", "1"]
    assert rows[-1] == ["total", "1", "46"]
    page = _text(aiko_c.get("/my/training-log"))
    assert "Randori day" in page and ">46<" in page
    # the instructor sees it too (for gradings); Ben, a no-show, attended nothing
    assert "Randori day" in people["sensei"][1].get(f"/people/{aiko.id}/training-log").get_data(as_text=True)
    ben_rows = list(csv.reader(io.StringIO(ben_c.get("/my/training-log.csv").get_data().decode("utf-8-sig"))))
    assert "Randori day" not in str(ben_rows) and ben_rows[-1] == ["total", "0", "0"]

    # ---- the recording: listed for members, a fresh provider link at each click; nobody else
    watch = f"/recordings/{session_id}/watch"
    assert watch in aiko_c.get("/recordings").get_data(as_text=True)
    first = aiko_c.get(watch)
    assert first.status_code == 303 and first.headers["Location"] in fake_rtk.links_issued
    assert first.headers["Cache-Control"].startswith("no-store")
    assert first.headers["Location"] not in aiko_c.get("/recordings").get_data(as_text=True)
    links_before = len(fake_rtk.links_issued)
    by_ben = ben_c.get(watch)  # the no-show may watch (a member)
    assert by_ben.status_code == 303 and by_ben.headers["Location"] in fake_rtk.links_issued
    assert len(fake_rtk.links_issued) == links_before + 1  # asked for at his click
    anonymous = people["anonymous"][1].get(watch)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert people["pat"][1].get(watch).status_code == 404
    assert watch not in people["pat"][1].get("/recordings").get_data(as_text=True)
    assert len(fake_rtk.links_issued) == links_before + 1


def test_the_no_show_whose_seat_was_released_is_told_the_recording_is_ready(
    people, fake_rtk, clock, smtp_sink, minute, run_jobs
):
    day = live_the_day(people, fake_rtk, clock, smtp_sink, minute, run_jobs)
    ben = people["ben"][0]
    assert day["ready_mail"][(ben.email, "recording_ready")] == 1
