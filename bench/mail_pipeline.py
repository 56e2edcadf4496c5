"""Benchmark: one send job's batches with and without composing the next email during the previous one's SMTP
exchange (portal.notifications.sending.PIPELINE), in one process, interleaved, against the bench's SMTP sink.

    .venv/bin/python bench/mail_pipeline.py [rows per batch, default 100] [rounds, default 5]

The last line: msg/s of each and the ratio (pipelined / one after the other).
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import timedelta

from mail_common import Instance, make_people, make_seated_session
from sqlalchemy import update


def main(rows: int = 100, rounds: int = 5) -> None:
    from portal.core.clock import now_utc
    from portal.extensions import db
    from portal.notifications import sending
    from portal.notifications.models import Notification

    with Instance() as instance:
        people = make_people(rows)
        session = make_seated_session(people[0], people[1:], now_utc() + timedelta(minutes=50), "Pipeline")
        ids = list(
            db.session.scalars(
                db.select(Notification.id).where(
                    Notification.session_id == session.id, Notification.kind == "reminder_1h"
                )
            )
        )
        rates: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(rounds):
            for pipelined in (False, True):
                db.session.execute(
                    update(Notification).where(Notification.id.in_(ids)).values(status="pending", attempts=0)
                )
                db.session.commit()
                instance.sink.arrivals.clear()
                sending.PIPELINE = pipelined
                started = time.perf_counter()
                sending.send_batch(ids)
                rates[pipelined].append(len(ids) / (time.perf_counter() - started))
                assert len(instance.sink.arrivals) == len(ids), len(instance.sink.arrivals)
        sending.PIPELINE = False  # the default
        one, piped = statistics.median(rates[False]), statistics.median(rates[True])
        print(f"one after the other  {one:7.0f} msg/s  ({min(rates[False]):.0f}-{max(rates[False]):.0f})")
        print(f"pipelined            {piped:7.0f} msg/s  ({min(rates[True]):.0f}-{max(rates[True]):.0f})")
        print(
            f"{len(ids)} emails a batch, median of {rounds} rounds: pipelined / one after the other {piped / one:.2f}x"
        )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
