"""The email channel's transport: stdlib smtplib with the SMTP_* settings, or a file outbox when no SMTP host
is set.

A message has a text and an HTML body and optional attachments (the session's .ics). Its Message-ID is
derived from the notification row and its moment, so in the rare case a worker dies after the server accepted a
message but before the row was marked sent, the re-sent copy carries the same id and mail clients fold it (while
a reminder due again after a reschedule is a new message).

Headers take one line: what comes from people (a session's title in the Subject, a name in To) may hold line
breaks, line or paragraph separators (U+2028, U+2029, U+0085) or control characters, which the email package
refuses in a header; they become spaces there (`single_line`). The bodies keep the text as it is.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit

from portal.config import Settings
from portal.core.clock import now_utc
from portal.core.text import single_line


class MailError(Exception):
    """The message was not accepted (server down, refused, timed out). Safe to try again later."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str
    subtype: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str
    # The Message-ID's stable part, e.g. "notification-42-20261205T170000Z": a re-sent copy folds with the first
    message_key: str
    attachments: tuple[Attachment, ...] = ()
    # Extra headers, e.g. List-Unsubscribe (RFC 8058); values are folded to one line
    headers: tuple[tuple[str, str], ...] = ()


def build_message(mail: Mail, settings: Settings) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.MAIL_FROM
    message["To"] = single_line(mail.to)
    message["Subject"] = single_line(mail.subject)
    message["Date"] = formatdate(now_utc().timestamp(), localtime=False)
    domain = urlsplit(settings.BASE_URL).hostname or "portal.local"
    message["Message-ID"] = f"<{mail.message_key}@{domain}>"
    for name, value in mail.headers:
        message[name] = single_line(value)
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    for item in mail.attachments:
        message.add_attachment(
            item.content, maintype=item.maintype, subtype=item.subtype, filename=item.filename, params=item.params
        )
    return message


def outbox_path(settings: Settings) -> Path:
    return Path(settings.INSTANCE_PATH) / "outbox"


def describe_transport(settings: Settings) -> str:
    if settings.SMTP_HOST:
        return f"SMTP {settings.SMTP_HOST}:{settings.SMTP_PORT} ({settings.SMTP_TLS})"
    return f"written to {outbox_path(settings)}/*.eml (no PORTAL_SMTP_HOST)"


def deliver(message: EmailMessage, settings: Settings) -> str:
    """Hand the message over; returns where it went. Raises MailError if it was not accepted."""
    if not settings.SMTP_HOST:
        return _write_outbox(message, settings)
    try:
        with _connect(settings) as smtp:
            if settings.SMTP_USER:
                smtp.login(settings.SMTP_USER, settings.SMTP_PASSWORD or "")
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(f"SMTP {settings.SMTP_HOST}:{settings.SMTP_PORT}: {exc}") from exc
    return f"smtp:{settings.SMTP_HOST}"


def _connect(settings: Settings) -> smtplib.SMTP:
    timeout = settings.SMTP_TIMEOUT_SECONDS
    if settings.SMTP_TLS == "ssl":
        return smtplib.SMTP_SSL(
            settings.SMTP_HOST, settings.SMTP_PORT, timeout=timeout, context=ssl.create_default_context()
        )
    smtp = smtplib.SMTP(settings.SMTP_HOST, settings.SMTP_PORT, timeout=timeout)
    try:
        if settings.SMTP_TLS == "starttls":
            smtp.starttls(context=ssl.create_default_context())
    except BaseException:
        smtp.close()
        raise
    return smtp


def _write_outbox(message: EmailMessage, settings: Settings) -> str:
    folder = outbox_path(settings)
    folder.mkdir(parents=True, exist_ok=True)
    message_id = message["Message-ID"].strip("<>").split("@")[0]
    name = f"{now_utc():%Y%m%dT%H%M%S}-{message_id}.eml"
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(bytes(message))
    os.replace(tmp, folder / name)  # readers never see half a file
    return str(folder / name)
