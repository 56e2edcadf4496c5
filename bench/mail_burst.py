"""A burst of reminders through the real worker path, versus raw smtplib over one connection.

Run: .venv/bin/python bench/mail_burst.py [reminders=1000] [workers=1] [bursts=3]
(SQLite file by default; PORTAL_BENCH_DATABASE_URL=postgresql+psycopg://... for PostgreSQL: its tables are
dropped and re-created.)

A throw-away instance with its own redis-server and an SMTP sink (aiosmtpd, in this process); real worker processes
(`python -m portal.ops.worker`). One session with N-1 members and its instructor: its 10-minute reminders are
planned (which schedules their moment) and become due a few seconds later; the worker's scheduler starts the
dispatch at that moment, which fans the rows out in batches on the mail queue. Measured: the lateness of the first
and the last email (arrival in the sink minus due time) and the rate from due to the last one. The baseline: the
same messages, prebuilt, sent by plain smtplib over one connection to the same sink, measured right before and
right after each burst. Several bursts (3 by default) in one instance, each between its own two baselines: the
last line is the median of their ratios, so one burst caught by the machine's neighbours does not make the figure.
"""

from __future__ import annotations

import email.policy
import sys
import time
from datetime import timedelta

from mail_common import Instance, make_people, make_seated_session, raw_smtplib_rate

LEAD = 8.0  # seconds from the end of the setup to the moment the reminders are due


def main(reminders: int = 1000, workers: int = 1, bursts: int = 3) -> None:
    import statistics

    from portal.config import current_settings
    from portal.core.clock import now_utc
    from portal.extensions import db
    from portal.notifications import mailer
    from portal.notifications.email_channel import EmailChannel
    from portal.notifications.models import Notification

    with Instance() as instance:
        print(
            f"database: {instance.database_url.split('://')[0]}, workers: {workers}, reminders: {reminders}, "
            f"bursts: {bursts}"
        )
        instance.start_workers(workers)
        people = make_people(reminders)
        instructor, members = people[0], people[1:]

        # the baseline's messages: the same reminder email (of a session like the burst's), built beforehand
        settings = current_settings()
        model = make_seated_session(instructor, members[:1], now_utc() + timedelta(days=2), "Burst")
        row = db.session.query(Notification).filter_by(session_id=model.id, kind="reminder_10m").first()
        channel = EmailChannel()
        prebuilt = [
            mailer.build_message(channel.compose(row, person, model, settings), settings).as_bytes(
                policy=email.policy.SMTP
            )  # as smtplib's send_message flattens it
            for person in people
        ]
        ratios, steadies, lasts = [], [], []
        for number in range(1, bursts + 1):
            ratio, steady, last = burst(instance, instructor, members, prebuilt, reminders, number)
            ratios.append(ratio)
            steadies.append(steady)
            lasts.append(last)
        print(
            f"ratio worker/raw {statistics.median(ratios):.2f}x median of {bursts} bursts "
            f"({', '.join(f'{r:.2f}' for r in ratios)}; steady {statistics.median(steadies):.2f}x), "
            f"last email {max(lasts):.1f} s after due at worst"
        )


def burst(instance, instructor, members, prebuilt: list[bytes], reminders: int, number: int):
    """One burst of `reminders` due at once, between two runs of the raw baseline (the machine's ups and downs
    during the burst hit both); (ratio, steady ratio, lateness of the last email)."""
    from sqlalchemy import update

    from portal.core.clock import now_utc
    from portal.extensions import db
    from portal.notifications.models import Notification

    before = raw_smtplib_rate(instance.sink.port, prebuilt)
    instance.sink.arrivals.clear()
    due = (now_utc() + timedelta(seconds=LEAD)).replace(microsecond=0) + timedelta(seconds=1)
    session = make_seated_session(instructor, members, due + timedelta(minutes=10), f"Burst {number}")
    db.session.execute(  # the 24 h and 1 h reminders went out long ago
        update(Notification)
        .where(Notification.session_id == session.id, Notification.kind != "reminder_10m")
        .values(status="sent")
    )
    db.session.commit()

    wait = due.timestamp() - time.time()
    if wait < 0:
        sys.exit(f"setup took too long: the reminders were due {-wait:.1f} s before the measure began")
    if not instance.sink.wait_for(reminders, timeout=wait + 300):
        print(f"only {len(instance.sink.arrivals)} of {reminders} arrived within 300 s; logs: {instance.folder}")
    arrivals = sorted(t for t, _, _ in instance.sink.arrivals)
    time.sleep(2)  # any duplicate that was going to come, comes
    duplicates = len(instance.sink.arrivals) - len({(to, subject) for _, to, subject in instance.sink.arrivals})
    instance.sink.arrivals.clear()
    after = raw_smtplib_rate(instance.sink.port, prebuilt)

    due_ts = due.timestamp()
    first, last = arrivals[0] - due_ts, arrivals[-1] - due_ts
    through_worker = len(arrivals) / (arrivals[-1] - due_ts)
    steady = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else float("nan")
    raw = (before + after) / 2
    print(f"burst {number}")
    print(f"  raw smtplib, one connection           {before:8.0f} msg/s before, {after:8.0f} msg/s after")
    count = f"({len(arrivals)} emails, {duplicates} doubled)"
    print(f"  through the worker, due -> last        {through_worker:8.0f} msg/s {count}")
    print(f"  through the worker, first -> last      {steady:8.0f} msg/s")
    print(f"  lateness of the first / last email     {first:8.2f} s / {last:.2f} s")
    print(f"  ratio worker/raw {through_worker / raw:.2f}x (steady {steady / raw:.2f}x)")
    return through_worker / raw, steady / raw, last


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:4]))
