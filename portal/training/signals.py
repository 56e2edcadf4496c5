"""What happens to training sessions, and what their pages ask, for the packages above training (seats,
notifications)."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from portal.core.signals import namespace

_signals = namespace()

session_created = _signals.signal(
    "session-created",
    doc="A session was scheduled. Sender: the TrainingSession (flushed, with its id).",
)

session_updated = _signals.signal(
    "session-updated",
    doc="""A session was edited. Sender: the TrainingSession; keyword argument `changes`: field -> [old, new] of
    what changed (start_time, capacity, ...). Seats fill new seats from the waitlist; notifications re-time
    reminders and tell seat holders of a new time.""",
)

session_canceled = _signals.signal(
    "session-canceled",
    doc="""A session was canceled. Sender: the TrainingSession. Seats release every seat and answer how many
    they released (recorded in the audit entry); notifications drop unsent reminders.""",
)

session_ended = _signals.signal(
    "session-ended",
    doc="""A session ended (by its instructor, the worker or the provider). Sender: the TrainingSession; its
    `end_reason` says how (`not_started`: the instructor never started it; notifications tell the seat holders,
    with links to the next sessions).""",
)

lead_changed = _signals.signal(
    "lead-changed",
    doc="""A session's lead instructor was replaced (a substitute: by the lead handing over, or by a board member).
    Sender: the TrainingSession (instructor_id already the new lead); keyword arguments `old_lead_id`,
    `new_lead_id` and `actor`. Notifications tell the seat holders who now leads.""",
)

instructor_late = _signals.signal(
    "instructor-late",
    doc="""A session is still `scheduled` 5 minutes after its start_time (the late-instructor routine, once per
    session: `late_notice_at` is set). Sender: the TrainingSession. Notifications email its instructors and the
    board once; waiting members see the notice on the join panel.""",
)

recording_ready = _signals.signal(
    "recording-ready",
    doc="""A session's recording became ready to watch (once per recording). Sender: the TrainingSession.
    Notifications email its seat holders, no-shows included.""",
)

sessions_shown = _signals.signal(
    "sessions-shown",
    doc="""A page lists sessions (home, the session list). Sender: the list of TrainingSessions; keyword argument
    `viewer`. A receiver returns a dict added to the page's template context (seats adds `panels`: session id ->
    its join panel for the viewer).""",
)

session_page = _signals.signal(
    "session-page",
    doc="""A session's own page is being rendered. Sender: the TrainingSession; keyword argument `viewer`. A
    receiver returns a dict added to the page's template context (seats adds the join `panel` and, for those
    who may see it, `attendance_rows`).""",
)

series_changed = _signals.signal(
    "series-changed",
    doc="""Several occurrences of a training series changed in one step (an edit or cancel with scope
    `following` or `all`; scope `this` is an ordinary session edit or cancel, with its own notices). Sender: the
    TrainingSeries; keyword arguments `action` ("updated" or "canceled"), `session_ids` (the affected
    occurrences, in date order), `changes` (for "updated": session id -> field -> [old, new]; {} for
    "canceled") and `at` (when the change began: the seats a cancel released are those of these sessions
    canceled at or after it). Notifications send one email per person listing every affected date. While the
    change runs, `in_series_change()` is true: per-session notices (seats_released because "session_canceled",
    session_updated) are left to this batched one.""",
)

_series_change: ContextVar[bool] = ContextVar("series_change", default=False)


@contextmanager
def series_change() -> Iterator[None]:
    """Marks the per-session signals sent inside as parts of one series change (see series_changed)."""
    token = _series_change.set(True)
    try:
        yield
    finally:
        _series_change.reset(token)


def in_series_change() -> bool:
    """True while a series change runs: a per-session notice is then sent batched, through series_changed."""
    return _series_change.get()
