"""The send job can compose the next email while the previous one is in its SMTP exchange (portal.notifications
.sending._Sender, on when PIPELINE is: off by default since reminders share their bodies), with every row still
claimed, marked and recorded on its own; a refused message stops the rest, pipelined or not.
Real SQLite/PostgreSQL, real Redis, the in-process worker and a real SMTP server."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from portal.core.queue import enqueue, get_redis
from portal.extensions import db
from portal.notifications import operations, sending
from portal.notifications.email_channel import EmailChannel, EmailConnection
from portal.notifications.jobs import sweep_reminders
from tests import test_mail_batch
from tests.test_mail_batch import _booked_session, _rows

sink = test_mail_batch.sink  # the SMTP sink fixture (counting connections)


def test_the_next_email_is_composed_while_the_previous_one_is_sent(
    make_session, make_user, run_jobs, sink, clock, monkeypatch
):
    monkeypatch.setattr(sending, "PIPELINE", True)
    session, _people = _booked_session(make_session, make_user, 4, timedelta(hours=5))
    operations.plan_reminders(session)
    db.session.commit()
    composed: list[threading.Event] = []
    overlapped: list[bool] = []
    compose, deliver = EmailChannel.compose, EmailConnection.deliver

    def noting_compose(self, *args, **kwargs):
        message = compose(self, *args, **kwargs)
        composed.append(threading.Event())
        if len(composed) > 1:
            composed[-2].set()  # the previous message's exchange may end now
        return message

    def waiting_deliver(self, message):
        mine = composed[len(overlapped)]
        # in flight until the next message is composed (the last one has no next: it waits out the timeout)
        overlapped.append(mine.wait(timeout=2 if len(overlapped) < len(composed) - 1 else 0.01))
        return deliver(self, message)

    monkeypatch.setattr(EmailChannel, "compose", noting_compose)
    monkeypatch.setattr(EmailConnection, "deliver", waiting_deliver)
    clock.at(session.start_time - timedelta(minutes=59))
    enqueue(sweep_reminders)
    run_jobs()

    assert len(sink.messages) == 5
    assert overlapped[:-1] == [True] * 4  # each of the first four was in flight while the next was composed
    sent = _rows("reminder_1h")
    assert len(sent) == 5 and all((r.status, r.attempts) == ("sent", 1) for r in sent)
    assert get_redis().keys("portal.notification.accepted.*") == []


@pytest.mark.parametrize("pipelined", [True, False])
def test_a_refused_message_stops_the_batch_and_the_one_composed_behind_it_is_not_sent(
    make_session, make_user, run_jobs, sink, clock, monkeypatch, pipelined
):
    monkeypatch.setattr(sending, "PIPELINE", pipelined)
    session, _people = _booked_session(make_session, make_user, 5, timedelta(hours=5))
    operations.plan_reminders(session)
    db.session.commit()
    deliver, delivered = EmailConnection.deliver, []

    def refusing_third(self, message):
        delivered.append(message.to)
        if len(delivered) == 3:
            from portal.notifications.mailer import MailError

            raise MailError("550 refused for the test")
        return deliver(self, message)

    monkeypatch.setattr(EmailConnection, "deliver", refusing_third)
    clock.at(session.start_time - timedelta(minutes=59))
    enqueue(sweep_reminders)
    run_jobs(max_rounds=1)

    rows = _rows("reminder_1h")
    by_status = sorted(r.status for r in rows)
    assert len(sink.messages) == 2 and len(delivered) == 3
    assert by_status == ["pending"] * 4 + ["sent"] * 2
    refused = [r for r in rows if r.last_error]
    assert len(refused) == 1 and refused[0].attempts == 1 and "550" in refused[0].last_error
    assert all(r.attempts == 0 for r in rows if r.status == "pending" and not r.last_error)
