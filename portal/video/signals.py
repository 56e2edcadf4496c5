"""What happens in the provider's rooms (told by its webhooks), for the packages that own sessions and attendance.

Video knows rooms, not sessions: every signal names the room (`room_id`, the provider's meeting id). A receiver
returns a short account of what it did, in words, kept as the webhook delivery's outcome.
"""

from portal.core.signals import namespace

_signals = namespace()

meeting_ended = _signals.signal(
    "meeting-ended",
    doc="The provider ended a room's meeting. Sender: the room id; keyword argument `reason` (text or None).",
)

participant_joined = _signals.signal(
    "participant-joined",
    doc="""Someone entered a room. Sender: the room id; keyword arguments `user_id` (the portal's user id the
    participant was added with, or None) and `at` (aware UTC).""",
)

participant_left = _signals.signal(
    "participant-left",
    doc="Someone left a room. Sender: the room id; keyword arguments `user_id` and `at`, as participant_joined.",
)

recording_updated = _signals.signal(
    "recording-updated",
    doc="""A recording's status changed. Sender: the room id (None if the provider did not say); keyword arguments
    `recording_id`, `status` (a RecordingStatus value), `url` and `expires_at` (the download link, when ready).""",
)
