"""Reminders and notices: what to tell whom, once, on each channel (email first: the mailer and the .ics).

Each channel registers itself with portal.notifications.channels when its module is imported; importing them
here, once, means any process that uses notifications has every channel."""

from portal.notifications import email_channel  # noqa: F401  (registers the email channel)
