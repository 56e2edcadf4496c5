"""Notices about a weekly series are batched (issue 11): an edit or cancel with scope `following` or `all` sends
one email per person listing every affected date (through the real SMTP sink), none per session; scope `this`
is an ordinary one-session notice. A canceled date's reminders are dropped either way."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.core.queue import enqueue
from portal.extensions import db
from portal.notifications.jobs import sweep_reminders
from portal.notifications.models import Notification
from portal.seats import standing
from portal.training import series as series_ops
from portal.training.models import TrainingSession
from portal.training.series_models import TrainingSeries

pytestmark = pytest.mark.usefixtures("mail_app")


@pytest.fixture
def weekly(api_client, make_user, clock):
    client, instructor = api_client("instructor")
    answer = client.post(
        "/api/training/series",
        json={
            "title": "Kata",
            "duration_minutes": 60,
            "capacity": 5,
            "first_start": "2027-03-22T18:00",
            "time_zone": "Europe/Berlin",
            "weekdays": ["MO", "WE"],
            "interval_weeks": 1,
            "count": 4,
        },
    )
    assert answer.status_code == 201, answer.json
    series = db.session.get(TrainingSeries, answer.json["series"]["id"])
    ids = answer.json["occurrence_ids"]
    aiko, ben = make_user("member", timezone="Europe/Berlin"), make_user("member", timezone="America/New_York")
    standing.book_series(series, aiko)
    standing.book_series(series, ben)
    db.session.commit()
    return series, ids, instructor, (aiko, ben)


def _deliver(run_jobs, smtp_sink) -> list:
    enqueue(sweep_reminders)
    run_jobs()
    return [m for m in smtp_sink.messages if "Reminder" not in m["Subject"]]


def test_canceling_following_dates_sends_one_email_per_person_listing_every_date(weekly, run_jobs, smtp_sink):
    series, ids, instructor, (aiko, ben) = weekly
    origin = db.session.get(TrainingSession, ids[1])
    series_ops.cancel_series(series, scope="following", origin=origin, actor=instructor)
    db.session.commit()

    notices = _deliver(run_jobs, smtp_sink)
    assert sorted(m["To"].addresses[0].addr_spec for m in notices) == sorted([aiko.email, ben.email])
    berlin = next(m for m in notices if m["To"].addresses[0].addr_spec == aiko.email)
    assert berlin["Subject"] == "Canceled: Kata, 3 dates"
    text = berlin.get_body(("plain",)).get_content()
    assert "Wed 24 Mar 2027, 18:00 CET" in text and "Mon 29 Mar 2027, 18:00 CEST" in text  # the zone's own time
    assert "Wed 31 Mar 2027, 18:00 CEST" in text and "Mon 22 Mar" not in text  # the first date stays
    new_york = next(m for m in notices if m["To"].addresses[0].addr_spec == ben.email)
    assert "Wed 24 Mar 2027, 13:00 EDT" in new_york.get_body(("plain",)).get_content()
    assert berlin["List-Unsubscribe"]  # a notice: one may turn notices off
    per_session = db.session.scalars(select(Notification).where(Notification.kind == "canceled")).all()
    assert per_session == []
    reminders_left = db.session.scalars(
        select(Notification).where(
            Notification.session_id.in_(ids[1:]), Notification.kind.like("reminder%"), Notification.status == "pending"
        )
    ).all()
    assert reminders_left == []


def test_an_edit_of_all_dates_is_one_email_naming_what_changed(weekly, run_jobs, smtp_sink):
    series, ids, instructor, (aiko, _) = weekly
    origin = db.session.get(TrainingSession, ids[0])
    series_ops.update_series(
        series, {"title": "Kata (dojo 2)", "capacity": 8}, scope="all", origin=origin, actor=instructor
    )
    db.session.commit()

    notices = _deliver(run_jobs, smtp_sink)
    assert len(notices) == 2
    mine = next(m for m in notices if m["To"].addresses[0].addr_spec == aiko.email)
    assert mine["Subject"] == "Changed: Kata (dojo 2), 4 dates"
    text = mine.get_body(("plain",)).get_content()
    assert "(capacity, title)" in text and text.count("2027, 18:00") == 4
    assert not list(mine.iter_attachments())  # several dates: no one-session .ics


def test_canceling_one_date_is_the_ordinary_one_session_notice(weekly, run_jobs, smtp_sink):
    series, ids, instructor, _ = weekly
    series_ops.cancel_series(series, scope="this", origin=db.session.get(TrainingSession, ids[2]), actor=instructor)
    db.session.commit()
    notices = _deliver(run_jobs, smtp_sink)
    assert {m["Subject"] for m in notices} == {"Canceled: Kata"}
    assert len(notices) == 2
