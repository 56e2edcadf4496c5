"""The mailer: a real SMTP exchange (aiosmtpd), multipart text + HTML + .ics, clear errors, the file outbox."""

from __future__ import annotations

import dataclasses

import pytest

from portal.core.text import single_line
from portal.notifications.mailer import Attachment, Mail, MailError, build_message, deliver


@pytest.fixture
def mail():
    return Mail(
        to="Ann <ann@example.org>",
        subject="Hello",
        text="plain body",
        html="<p>html body</p>",
        attachments=(
            Attachment(
                "session.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "text", "calendar", {"method": "PUBLISH"}
            ),
        ),
        message_key="notification-7",
    )


def _settings(app, **changes):
    return dataclasses.replace(app.extensions["portal.settings"], **changes)


def test_smtp_delivery_carries_text_html_and_the_ics(app, smtp_sink, mail):
    settings = _settings(app, **smtp_sink.settings, MAIL_FROM="Portal <portal@example.org>")
    assert deliver(build_message(mail, settings), settings) == "smtp:127.0.0.1"
    [message] = smtp_sink.messages
    assert smtp_sink.envelopes == [("portal@example.org", ["ann@example.org"])]
    assert message["Subject"] == "Hello" and message["Message-ID"] == "<notification-7@portal.test>"
    assert message.get_body(("plain",)).get_content().strip() == "plain body"
    assert message.get_body(("html",)).get_content().strip() == "<p>html body</p>"
    [ics] = list(message.iter_attachments())
    assert ics.get_filename() == "session.ics" and ics.get_content_type() == "text/calendar"


def test_a_refusing_server_raises_mail_error_and_keeps_nothing(app, smtp_sink, mail):
    settings = _settings(app, **smtp_sink.settings)
    smtp_sink.refuse(554, "Transaction failed")
    with pytest.raises(MailError, match="554"):
        deliver(build_message(mail, settings), settings)
    assert smtp_sink.messages == []


def test_an_unreachable_server_raises_mail_error_naming_it(app, smtp_sink, mail):
    settings = _settings(app, **smtp_sink.settings)
    smtp_sink.stop()
    with pytest.raises(MailError, match=f"127.0.0.1:{smtp_sink.port}"):
        deliver(build_message(mail, settings), settings)


def test_login_against_a_server_without_auth_is_a_clear_mail_error(app, smtp_sink, mail):
    settings = _settings(app, **smtp_sink.settings, SMTP_USER="portal", SMTP_PASSWORD="secret")
    with pytest.raises(MailError, match="AUTH"):
        deliver(build_message(mail, settings), settings)
    assert smtp_sink.messages == []


def test_starttls_against_a_server_without_tls_fails_instead_of_sending_in_clear(app, smtp_sink, mail):
    settings = _settings(app, **{**smtp_sink.settings, "SMTP_TLS": "starttls"})
    with pytest.raises(MailError, match="STARTTLS"):
        deliver(build_message(mail, settings), settings)
    assert smtp_sink.messages == []


def test_without_smtp_host_the_message_is_written_whole_to_the_outbox(app, mail, tmp_path):
    settings = _settings(app, SMTP_HOST=None, INSTANCE_PATH=str(tmp_path))
    where = deliver(build_message(mail, settings), settings)
    files = list((tmp_path / "outbox").iterdir())
    assert [str(f) for f in files] == [where] and where.endswith("-notification-7.eml")
    assert b"Subject: Hello" in files[0].read_bytes()


@pytest.mark.parametrize(
    "char", ["\r", "\n", "\r\n", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1e", "\x00", "\x7f", "\t"]
)
def test_headers_are_one_line_whatever_the_subject_and_name_hold_and_the_message_is_sent(app, smtp_sink, mail, char):
    settings = _settings(app, **smtp_sink.settings)
    odd = dataclasses.replace(mail, to=f"Ann{char}Lee <ann@example.org>", subject=f"Judo{char} basics{char}")
    deliver(build_message(odd, settings), settings)
    [message] = smtp_sink.messages
    assert str(message["Subject"]) == "Judo basics"
    assert (message["To"].addresses[0].display_name, message["To"].addresses[0].addr_spec) == (
        "Ann Lee",
        "ann@example.org",
    )


def test_single_line_keeps_the_words_and_drops_only_what_breaks_a_line():
    assert single_line("Judo\r\n\r\nbasics") == "Judo basics"
    assert single_line(" Bo <staff>\u2028\u2013 Kata\u2029 ") == "Bo <staff> \u2013 Kata"
    assert single_line("Zoë\u00a0Ünal \U0001f94b") == "Zoë\u00a0Ünal \U0001f94b"  # letters, no-break space, emoji
    assert single_line("\x00\x07\x1b[31m") == "[31m"
