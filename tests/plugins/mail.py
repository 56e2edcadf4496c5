"""Fixtures for mail tests (see tests/conftest.py for the shared toolkit).

- `smtp_sink`: a real SMTP server in-process (aiosmtpd) on a free port. `.messages` are the received
  `email.message.EmailMessage`s; `.refuse(code, text)` answers DATA with an error (e.g. 451: try later)
  until `.accept()`; `.stop()` / `.start()` take the server away and back. `.settings` are the SMTP_* settings
  pointing at it, for `make_app(**smtp_sink.settings)`.
- `mail_app`: the test app, with its settings switched to the sink (restored after the test).
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import socket
import threading
import time

import pytest

from portal.core.queue import enqueue
from portal.notifications.jobs import sweep_reminders


class SmtpSink:
    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._refusal: str | None = None
        self._delay = 0.0
        self._lock = threading.Lock()
        self.controller = None

    # aiosmtpd handler
    async def handle_DATA(self, server, session, envelope):
        import asyncio

        if self._delay:
            # A client that goes away meanwhile never hears "250": aiosmtpd cancels this coroutine, and the
            # message is not accepted (as a real server must not deliver it either).
            await asyncio.sleep(self._delay)
        if self._refusal:
            return self._refusal
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK: queued"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def refuse(self, code: int = 451, text: str = "Try again later") -> None:
        self._refusal = f"{code} {text}"

    def accept(self) -> None:
        self._refusal = None

    def slow_down(self, seconds: float) -> None:
        """Answer each DATA only after `seconds` (a worker can be killed in the middle of the exchange)."""
        self._delay = seconds

    def wait_for(self, count: int, timeout: float = 10.0) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages) < count:
            time.sleep(0.05)
        return self.messages

    @property
    def settings(self) -> dict:
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": self.port, "SMTP_TLS": "none", "SMTP_TIMEOUT_SECONDS": 5.0}


@pytest.fixture
def smtp_sink():
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def mail_app(app, smtp_sink):
    """The session app sending through `smtp_sink` for this test (its settings object is swapped back after)."""
    original = app.extensions["portal.settings"]
    app.extensions["portal.settings"] = dataclasses.replace(original, **smtp_sink.settings)
    yield app
    app.extensions["portal.settings"] = original


@pytest.fixture
def sweep(run_jobs):
    """Runs the minute reminders sweep as cron would (enqueued), then every job through the real worker
    (`run_jobs`, tests.plugins.jobs): the sends it plans included. Answers what run_jobs answers."""

    def go():
        enqueue(sweep_reminders)
        return run_jobs()

    return go
