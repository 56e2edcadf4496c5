"""What happens to training sessions, and what their pages ask, for the packages above training (seats,
notifications)."""

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
    doc="A session ended (by its instructor, the worker or the provider). Sender: the TrainingSession.",
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
