"""The email channel's transport: stdlib smtplib with the SMTP_* settings, or a file outbox when no SMTP host
is set.

A message has a text and an HTML body and optional attachments (the session's .ics). Its Message-ID is
derived from the notification row and its moment, so in the rare case a worker dies after the server accepted a
message but before the row was marked sent, the re-sent copy carries the same id and mail clients fold it (while
a reminder due again after a reschedule is a new message).

A batch of messages goes over one connection (`Connection`: opened at the first message, logged in once,
closed at the end; `deliver` is one message on a connection of its own). A batch never re-sends on a connection
that broke mid-message: the message is reported not accepted and the caller decides (the row is retried later,
with the same Message-ID).

Headers take one line: what comes from people (a session's title in the Subject, a name in To) may hold line
breaks, line or paragraph separators (U+2028, U+2029, U+0085) or control characters, which the email package
refuses in a header; they become spaces there (`single_line`). The bodies keep the text as it is.
"""

from __future__ import annotations

import base64
import os
import secrets
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.header import Header
from email.message import EmailMessage
from email.utils import formatdate, parseaddr, quote
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


@dataclass(frozen=True)
class Rendered:
    """A message as the bytes that go on the wire (CRLF lines), with its envelope."""

    data: bytes
    sender: str
    recipients: tuple[str, ...]
    message_id: str


class _NotPlain(Exception):
    """The fast writer does not handle this message (a non-ASCII address, say): the email package does."""


def render(mail: Mail, settings: Settings) -> Rendered | EmailMessage:
    """The message of `build_message`, written straight to bytes: multipart/mixed (alternative text + HTML, then
    the attachments), every body part base64 in UTF-8, headers one line each (RFC 2047 encoded words folded at 78
    when not ASCII). About ten times faster than the email package's modern policy, which parses every header
    it is given and folds it again when flattening; the batch sender writes every email this way. Falls back to
    `build_message` for what it does not handle."""
    try:
        return _render(mail, settings)
    except _NotPlain:
        return build_message(mail, settings)


def _render(mail: Mail, settings: Settings) -> Rendered:
    domain = urlsplit(settings.BASE_URL).hostname or "portal.local"
    message_id = f"<{mail.message_key}@{domain}>"
    to = single_line(mail.to)
    sender_address, to_address = parseaddr(settings.MAIL_FROM)[1], parseaddr(to)[1]
    if not (to.isascii() and settings.MAIL_FROM.isascii() and to_address and sender_address):
        raise _NotPlain
    head = [
        _header("From", settings.MAIL_FROM, encode=False),
        _header("To", to, encode=False),
        _header("Subject", mail.subject),
        _header("Date", formatdate(now_utc().timestamp(), localtime=False), encode=False),
        _header("Message-ID", message_id, encode=False),
        *(_header(name, value) for name, value in mail.headers),
        b"MIME-Version: 1.0\r\n",
    ]
    alternative = _multipart(
        "alternative",
        [
            _leaf(b'Content-Type: text/plain; charset="utf-8"\r\n', _text_body(mail.text)),
            _leaf(b'Content-Type: text/html; charset="utf-8"\r\n', _text_body(mail.html)),
        ],
    )
    if mail.attachments:
        body = _multipart("mixed", [alternative, *(_attachment(item) for item in mail.attachments)])
    else:
        body = alternative
    return Rendered(b"".join(head) + body, sender_address, (to_address,), message_id)


def _header(name: str, value: str, *, encode: bool = True) -> bytes:
    """One header. `encode=False`: the value is ASCII already (an address list, which may hold encoded words)."""
    value = single_line(value)
    if not encode and not value.isascii():
        raise _NotPlain
    plain = value.isascii() and (not encode or "=?" not in value)  # else: encoded words, so "=?" reads as text
    if plain and len(name) + len(value) <= 996:
        return f"{name}: {value}\r\n".encode("ascii")  # one line (RFC 5322: at most 998 characters)
    text = Header(value, "us-ascii" if plain else "utf-8", header_name=name).encode(linesep="\r\n", maxlinelen=78)
    return f"{name}: {text}\r\n".encode("ascii")


def _text_body(text: str) -> bytes:
    """Lines ended the way the email package ends them in a base64 text part (its `normal_body`)."""
    return b"\n".join(text.encode().splitlines()) + b"\n"


def _leaf(content_type: bytes, payload: bytes, extra: bytes = b"") -> bytes:
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    return content_type + b"Content-Transfer-Encoding: base64\r\n" + extra + b"\r\n" + encoded


def _multipart(subtype: str, parts: list[bytes]) -> bytes:
    boundary = f"=_{secrets.token_hex(12)}".encode()  # "=_" never occurs in base64
    out = [b"Content-Type: multipart/" + subtype.encode() + b'; boundary="' + boundary + b'"\r\n\r\n']
    for part in parts:
        out.append(b"--" + boundary + b"\r\n" + part + b"\r\n")
    out.append(b"--" + boundary + b"--\r\n")
    return b"".join(out)


def _attachment(item: Attachment) -> bytes:
    values = [item.maintype, item.subtype, item.filename, *item.params, *item.params.values()]
    if not all(v.isascii() and single_line(v) == v for v in values):
        raise _NotPlain
    params = "".join(f'; {name}="{quote(value)}"' for name, value in item.params.items())
    content_type = f"Content-Type: {item.maintype}/{item.subtype}{params}\r\n".encode()
    disposition = f'Content-Disposition: attachment; filename="{quote(item.filename)}"\r\n'.encode()
    return _leaf(content_type, item.content, disposition)


def outbox_path(settings: Settings) -> Path:
    return Path(settings.INSTANCE_PATH) / "outbox"


def describe_transport(settings: Settings) -> str:
    if settings.SMTP_HOST:
        return f"SMTP {settings.SMTP_HOST}:{settings.SMTP_PORT} ({settings.SMTP_TLS})"
    return f"written to {outbox_path(settings)}/*.eml (no PORTAL_SMTP_HOST)"


def deliver(message: EmailMessage, settings: Settings) -> str:
    """Hand the message over on a connection of its own; returns where it went. Raises MailError if it was not
    accepted."""
    with Connection(settings) as connection:
        return connection.send(message)


class Connection:
    """One SMTP connection for many messages (or the outbox folder when no SMTP host is set). Opened lazily at the
    first `send`, closed by `close()` / the end of the `with` block. After a failure the connection is dropped:
    the next `send` opens a new one."""

    # Servers cap the messages of one connection (often at 100): open a new one before that
    MAX_MESSAGES = 90
    # A connection idle this long may have been closed by the server: check with NOOP before reusing it
    IDLE_CHECK_SECONDS = 10.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._sent_on_it = 0
        self._last_used = 0.0
        self.opened = 0  # connections opened (for tests and benchmarks)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def send(self, message: EmailMessage | Rendered) -> str:
        """Hand one message over; returns where it went. Raises MailError if it was not accepted."""
        settings = self.settings
        if not settings.SMTP_HOST:
            return _write_outbox(message, settings)
        try:
            smtp = self._ready()
            if isinstance(message, Rendered):
                smtp.sendmail(message.sender, list(message.recipients), message.data)
            else:
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise MailError(f"SMTP {settings.SMTP_HOST}:{settings.SMTP_PORT}: {exc}") from exc
        self._sent_on_it += 1
        self._last_used = time.monotonic()
        return f"smtp:{settings.SMTP_HOST}"

    def _ready(self) -> smtplib.SMTP:
        if self._smtp is not None and self._sent_on_it >= self.MAX_MESSAGES:
            self.close()
        if self._smtp is not None and time.monotonic() - self._last_used > self.IDLE_CHECK_SECONDS:
            try:
                if self._smtp.noop()[0] != 250:
                    self.close()
            except (smtplib.SMTPException, OSError):
                self.close()
        if self._smtp is None:
            smtp = _connect(self.settings)
            try:
                if self.settings.SMTP_USER:
                    smtp.login(self.settings.SMTP_USER, self.settings.SMTP_PASSWORD or "")
            except BaseException:
                smtp.close()
                raise
            self._smtp, self._sent_on_it, self.opened = smtp, 0, self.opened + 1
        return self._smtp

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


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


def _write_outbox(message: EmailMessage | Rendered, settings: Settings) -> str:
    folder = outbox_path(settings)
    folder.mkdir(parents=True, exist_ok=True)
    rendered = isinstance(message, Rendered)
    message_id = (message.message_id if rendered else message["Message-ID"]).strip("<>").split("@")[0]
    name = f"{now_utc():%Y%m%dT%H%M%S}-{message_id}.eml"
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(message.data if rendered else bytes(message))
    os.replace(tmp, folder / name)  # readers never see half a file
    return str(folder / name)
