"""The email channel: composed by `emails` (subject, text and HTML bodies, the .ics), delivered by `mailer`
(SMTP, or the outbox folder when no SMTP host is set). Always enabled: mail always goes somewhere. A batch of rows
is delivered over one connection (`connection()`)."""

from __future__ import annotations

from dataclasses import replace

from portal.accounts.models import User
from portal.config import Settings
from portal.notifications import consent, emails, mailer
from portal.notifications.channels import register
from portal.notifications.mailer import Mail
from portal.notifications.models import Notification
from portal.training.models import TrainingSession


class EmailChannel:
    name = "email"

    def enabled(self, settings: Settings) -> bool:
        return True

    def compose(
        self, notification: Notification, user: User, session: TrainingSession | None, settings: Settings
    ) -> Mail:
        mail = emails.compose(notification, user, session, settings)
        extra = consent.mail_headers(notification, user, settings)
        return replace(mail, headers=mail.headers + tuple(extra.items())) if extra else mail

    def deliver(self, message: Mail, settings: Settings) -> str:
        return mailer.deliver(mailer.build_message(message, settings), settings)

    def connection(self, settings: Settings) -> EmailConnection:
        """Many messages over one SMTP connection (a batch of the send job)."""
        return EmailConnection(settings)

    def describe(self, settings: Settings) -> str:
        return mailer.describe_transport(settings)


class EmailConnection:
    """`deliver` on one reused SMTP connection; `close()` at the end of the batch."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.smtp = mailer.Connection(settings)

    def deliver(self, message: Mail) -> str:
        return self.smtp.send(mailer.render(message, self.settings))

    def close(self) -> None:
        self.smtp.close()


register(EmailChannel())
