"""What happens to seats, for the packages above seats (notifications)."""

from portal.core.signals import namespace

_signals = namespace()

seat_taken = _signals.signal(
    "seat-taken",
    doc="""A person now holds a confirmed seat (reserved, or taken on joining). Sender: the TrainingSession;
    keyword arguments `seat` and `via` ("reserve": the person asked for it; "join": taken on joining the room;
    "standing": a standing booking of a series). Notifications plan the holder's reminders and confirm a reserved
    seat.""",
)

seat_waitlisted = _signals.signal(
    "seat-waitlisted",
    doc="""A person took a place on the waitlist (the session was full). Sender: the TrainingSession; keyword
    arguments `seat` and `via` (as for seat_taken). Notifications confirm the place.""",
)

seat_given_up = _signals.signal(
    "seat-given-up",
    doc="""A person gave up their seat or waitlist place (cancel_seat). Sender: the TrainingSession; keyword
    arguments `seat` (the Seat row, now canceled) and `was` (the status it had: "confirmed" or "waitlisted").
    Notifications confirm the cancel with an .ics CANCEL.""",
)

seats_promoted = _signals.signal(
    "seats-promoted",
    doc="""Waitlist places became confirmed seats. Sender: the TrainingSession; keyword argument `seats` (the
    promoted Seat rows, in waitlist order). Notifications tell each person and plan their reminders.""",
)

seats_released = _signals.signal(
    "seats-released",
    doc="""Seats and waitlist places were given up all at once. Sender: the TrainingSession; keyword arguments
    `seats` (the Seat rows that were held) and `because` ("session_canceled", or "no_show": seats of people who
    had not joined 5 minutes after the session went live, released to the waitlist when the session's
    `release_no_shows` is on). Notifications tell the holders.""",
)
