"""What happens to seats, for the packages above seats (notifications)."""

from portal.core.signals import namespace

_signals = namespace()

seat_taken = _signals.signal(
    "seat-taken",
    doc="""A person now holds a confirmed seat (reserved, or taken on joining). Sender: the TrainingSession;
    keyword argument `seat`. Notifications plan the holder's reminders.""",
)

seats_promoted = _signals.signal(
    "seats-promoted",
    doc="""Waitlist places became confirmed seats. Sender: the TrainingSession; keyword argument `seats` (the
    promoted Seat rows, in waitlist order). Notifications tell each person and plan their reminders.""",
)

seats_released = _signals.signal(
    "seats-released",
    doc="""Seats and waitlist places were given up all at once. Sender: the TrainingSession; keyword arguments
    `seats` (the Seat rows that were held) and `because` ("session_canceled"). Notifications tell the holders.""",
)
