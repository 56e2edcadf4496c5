"""How late reminders arrive: the lateness (arrival in an SMTP sink minus due time) of 300 reminders due over a
minute, through the production processes (one worker, one cron), without faults and with the SMTP server refusing
every message (451) for a stretch of the minute.

Run: .venv/bin/python bench/reminder_lateness.py [fault_seconds=20]
(SQLite file by default; PORTAL_BENCH_DATABASE_URL=postgresql+psycopg://... for PostgreSQL: its tables are
dropped and re-created.)

30 sessions of 10 people (instructor and 9 members), their 10-minute reminders due 2 s apart (at a fraction of a
second past the second) from a few seconds after planning. Planning schedules each moment; the worker's scheduler
starts its dispatch; the cron's minute sweep is the safety net. Printed: p50, p95 and max lateness, and doubles.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

from mail_common import ROOT, Instance, make_people, make_seated_session, percentile

SESSIONS, PEOPLE = 30, 10
SPACING = 2.0  # seconds between two sessions' moments
LEAD = 8.0  # seconds from planning to the first moment


def run(fault_seconds: float) -> tuple[list[tuple[float, float]], int, float | None]:
    from sqlalchemy import update

    from portal.core.clock import now_utc
    from portal.extensions import db
    from portal.notifications.models import Notification

    with Instance() as instance:
        instance.start_workers(1)
        with open(instance.folder / "cron.log", "wb") as log:
            cron = subprocess.Popen(
                [sys.executable, "-m", "portal.ops.cron"], env=instance.env(), cwd=ROOT, stdout=log, stderr=log
            )
        try:
            people = make_people(SESSIONS * PEOPLE)
            first = now_utc() + timedelta(seconds=LEAD)
            due: dict[str, float] = {}  # recipient -> due timestamp
            for i in range(SESSIONS):
                group = people[i * PEOPLE : (i + 1) * PEOPLE]
                moment = first + timedelta(seconds=i * SPACING + 0.37)
                session = make_seated_session(group[0], group[1:], moment + timedelta(minutes=10), f"S{i}")
                db.session.execute(  # their 24 h and 1 h reminders went out long ago
                    update(Notification)
                    .where(Notification.session_id == session.id, Notification.kind != "reminder_10m")
                    .values(status="sent")
                )
                db.session.commit()
                due.update({person.email: moment.timestamp() for person in group})
            fault_end = None
            if fault_seconds:
                start = first.timestamp() + SESSIONS * SPACING / 3  # a third of the way into the minute
                instance.sink.refusing_until = fault_end = start + fault_seconds
                while time.time() < start:  # accept until then
                    instance.sink.refusing_until = 0.0
                    time.sleep(0.05)
                instance.sink.refusing_until = fault_end
            expected = len(due)
            instance.sink.wait_for(expected, timeout=SESSIONS * SPACING + LEAD + fault_seconds + 240)
            time.sleep(2)
            arrivals = list(instance.sink.arrivals)
        finally:
            cron.terminate()
            cron.wait(timeout=15)
    pairs = [(due[to], t) for t, to, _ in arrivals if to in due]  # (due, arrived)
    doubles = len(arrivals) - len({to for _, to, _ in arrivals})
    if len({to for _, to, _ in arrivals}) < expected:
        print(f"  {expected - len({to for _, to, _ in arrivals})} of {expected} never arrived")
    return pairs, doubles, fault_end


def report(label: str, lateness: list[float], doubles: int) -> float:
    p50, p95, worst = percentile(lateness, 50), percentile(lateness, 95), max(lateness)
    print(
        f"{label:32s} n={len(lateness):4d}  p50 {p50:6.2f} s  p95 {p95:6.2f} s  max {worst:6.2f} s  doubled {doubles}"
    )
    return worst


def main(fault_seconds: float = 20.0) -> None:
    pairs, doubles, _ = run(0)
    clean = [arrived - due for due, arrived in pairs]
    worst = report("no fault", clean, doubles)
    if fault_seconds:
        pairs, doubles, fault_end = run(fault_seconds)
        report(f"SMTP refusing {fault_seconds:.0f} s", [arrived - due for due, arrived in pairs], doubles)
        after = [arrived - max(due, fault_end) for due, arrived in pairs if due <= fault_end]
        report("  due by the fault's end, from it", after, 0)
    print(f"lateness without faults: p50 {percentile(clean, 50):.2f} s, max {worst:.2f} s (target: within 5 s)")


if __name__ == "__main__":
    main(*(float(a) for a in sys.argv[1:2]))
