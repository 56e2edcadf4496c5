"""The cron table: every periodic job, in one place. Cron strings are evaluated in UTC (always; the cron process
does not look at the machine's TZ). `portal cron` (portal.ops.cron) enqueues them; workers run them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Periodic:
    name: str  # also the prefix of the job id: cron-<name>-<UTC slot>
    func: str  # dotted path of the job
    cron: str  # minute hour day month weekday, in UTC
    timeout: int  # seconds
    description: str
    retry_intervals: tuple[int, ...] = ()  # seconds; minute sweeps need none (the next minute runs anyway)


SCHEDULE: tuple[Periodic, ...] = (
    Periodic(
        "rooms",
        "portal.training.rooms.sweep_rooms",
        "* * * * *",
        120,
        "provision rooms for sessions starting within PROVISION_AHEAD_HOURS that lack one (with backoff)",
    ),
    Periodic(
        "reminders",
        "portal.notifications.jobs.sweep_reminders",
        "* * * * *",
        120,
        "plan and send reminders 24 h / 1 h / 10 min before start, and pending notices",
    ),
    Periodic(
        "auto-end",
        "portal.training.jobs.sweep_auto_end",
        "* * * * *",
        120,
        "end live sessions AUTO_END_GRACE_MINUTES past their end, and scheduled ones never started; the"
        " late-instructor notice 5 min after an unstarted start",
    ),
    Periodic(
        "no-shows",
        "portal.seats.jobs.release_no_shows",
        "* * * * *",
        120,
        "release the seats of no-shows to the waitlist 5 min after a session with release_no_shows went live",
    ),
    Periodic(
        "heartbeat",
        "portal.ops.heartbeat.worker_beat",
        "* * * * *",
        30,
        "proves the path cron -> Redis -> worker -> database works (shown on the health page)",
    ),
    Periodic(
        "cleanup",
        "portal.training.jobs.cleanup",
        "0 2 * * *",
        900,
        "daily at 02:00 UTC: deactivate rooms of ended/canceled sessions, archive old sessions",
        retry_intervals=(60, 300, 900),
    ),
    Periodic(
        "series",
        "portal.training.series.extend_job",
        "30 2 * * *",
        900,
        "daily: make occurrences of weekly series that came within the 365-day horizon",
        retry_intervals=(60, 300, 900),
    ),
    Periodic(
        "orphan-rooms",
        "portal.training.rooms.close_orphan_rooms",
        "17 * * * *",
        300,
        "hourly: close provider rooms that no session holds (a creator that crashed between create and store)",
    ),
    Periodic(
        "forget-processes",
        "portal.ops.heartbeat.forget_silent",
        "10 2 * * *",
        60,
        "daily: drop heartbeats of worker/cron processes silent for a day (restarts leave old names)",
    ),
)
