"""Reminders and notices by email: what to send, to whom, once; the mailer and the .ics attachment."""
