"""Fault injection with real processes, part two (issue 16): the two outages of the portal's neighbours.

(a) The database goes away: a TCP proxy in front of PostgreSQL (`PORTAL_DATABASE_URL` of a real `portal run`
points at it) cuts every connection and refuses new ones for 18 s, then lets them through again. PostgreSQL
only: SQLite is a file, there is no network to cut.
(b) The SMTP server refuses: an aiosmtpd sink answers DATA with 451, then 421, for 20 s, then accepts.

For each: reminders due a few seconds before, during and after the fault are each delivered exactly once (counted
by Message-ID, and by recipient + session, in the sink), none lost, none doubled, each within 60 s of the end of
the fault (or of its due time, when that is later); worker and cron ride the fault out (same pids: the launcher
restarted neither).

The sessions are stored before the portal starts, so its first reminders sweep (at start) schedules every
moment; the fault is placed relative to those moments. Each test takes about 80 s on the 2-core machine.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import select
import socket
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.core.clock import now_utc
from tests.faults_harness import PortalRun, portal_env
from tests.plugins.browser import free_port
from tests.plugins.mail import SmtpSink

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds processes in /proc"),
]

STARTUP_BUDGET = 30  # seconds from storing the sessions to a started portal (its first sweep planned them all)
FAULT_AT, FAULT_SECONDS = 36, 18  # the fault, in seconds after the sessions are stored
DUE_AT = (33, 39, 45, 51, 57, 63)  # each session's reminder falls due this long after the sessions are stored
DELIVERY_BOUND = 60  # each reminder reaches the sink within this long after max(its due time, the fault's end)


class TimedSink(SmtpSink):
    """The mail plugin's sink, noting when (time.monotonic()) each message was accepted."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted_at: list[float] = []
        self.refused = 0

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        if answer.startswith("250"):
            self.accepted_at.append(time.monotonic())  # one event loop: messages[-1] is this message
        else:
            self.refused += 1
        return answer


class TcpProxy:
    """A TCP proxy on a free port. `cut()` closes every connection and refuses new ones (the listening socket is
    closed: connection refused) until `restore()`."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.port = free_port()
        self.connections = 0
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._refusing = threading.Event()
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None
        self._listen()
        self._thread = threading.Thread(target=self._serve, name="db-proxy", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener

    def _serve(self) -> None:
        while not self._stopping.is_set():
            if self._refusing.is_set() or self._listener is None:
                if self._refusing.is_set() and self._listener is not None:
                    self._listener.close()
                    self._listener = None
                elif not self._refusing.is_set():
                    self._listen()
                time.sleep(0.05)
                continue
            if not select.select([self._listener], [], [], 0.1)[0]:
                continue
            client, _ = self._listener.accept()
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets |= {client, upstream}
                self.connections += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            self._close(source, target)

    def _close(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                self._sockets.discard(sock)

    def cut(self) -> None:
        self._refusing.set()
        while self._listener is not None:  # the serving thread closes the listener
            time.sleep(0.01)
        with self._lock:
            sockets = list(self._sockets)
        self._close(*sockets)

    def restore(self) -> None:
        self._refusing.clear()

    def stop(self) -> None:
        self._refusing.set()
        self._stopping.set()
        self._thread.join(timeout=5)
        with self._lock:
            sockets = list(self._sockets)
        self._close(*sockets)
        if self._listener is not None:
            self._listener.close()


def _store_sessions(db, make_user, make_session, make_seat, label: str) -> tuple[dict, float]:
    """One session per DUE_AT (its reminder, 1 minute before its start, due then), two members each; returns the
    expected (recipient, title) -> due time (monotonic) and the moment the due times count from. The users are
    made first (hashing their passwords takes a while), so every due time is exact."""
    people = [(make_user("instructor"), make_user(), make_user()) for _ in DUE_AT]
    base, stored_at = now_utc(), time.monotonic()
    expected = {}
    for n, (due_at, (instructor, *members)) in enumerate(zip(DUE_AT, people, strict=True)):
        start = base + timedelta(seconds=60 + due_at)
        session = make_session(title=f"{label} drill {n}", instructor=instructor, start_time=start)
        for member in members:
            make_seat(session, member)
        for address in [m.email for m in members] + [instructor.email]:
            expected[(address, session.title)] = stored_at + due_at
    db.session.commit()
    return expected, stored_at


def _received(sink: TimedSink, titles: set[str]) -> list[tuple[str, str, str, float]]:
    """(Message-ID, recipient, title, accepted at) of each reminder of `titles` the sink accepted."""
    found = []
    for message, accepted_at in zip(list(sink.messages), list(sink.accepted_at), strict=False):
        message = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        text = f"{message['Subject']}\n{body.get_content() if body else ''}"
        for title in titles:
            if title in text:
                recipient = message["To"].addresses[0].addr_spec
                found.append((message["Message-ID"], recipient, title, accepted_at))
    return found


def _check_delivery(run: PortalRun, sink: TimedSink, expected: dict, fault_end: float) -> None:
    titles = {title for _, title in expected}
    last = max(max(expected.values()), fault_end) + DELIVERY_BOUND
    run.wait_for(
        lambda: {(r, t) for _, r, t, _ in _received(sink, titles)} >= set(expected),
        last - time.monotonic(),
        "every reminder in the sink",
    )
    time.sleep(2)  # a doubled send would follow within the same batch or its retry
    received = _received(sink, titles)
    by_id = Counter(message_id for message_id, *_ in received)
    assert [m for m, n in by_id.items() if n > 1] == [], f"doubled Message-IDs: {by_id}\n{run.tail()}"
    by_recipient = Counter((r, t) for _, r, t, _ in received)
    assert dict(by_recipient) == dict.fromkeys(expected, 1), run.tail()
    late = {
        (r, t): round(at - max(expected[(r, t)], fault_end), 1)
        for _, r, t, at in received
        if at - max(expected[(r, t)], fault_end) > DELIVERY_BOUND
    }
    assert late == {}, f"delivered later than {DELIVERY_BOUND} s after the fault's end: {late}\n{run.tail()}"


def _start(tmp_path, env, stored_at: float, name: str) -> tuple[PortalRun, dict[str, int]]:
    run = PortalRun(tmp_path, env, name=name)
    try:
        first = run.wait_started(timeout=STARTUP_BUDGET + 10)
    except BaseException:
        run.cleanup()
        raise
    took = time.monotonic() - stored_at
    if took > FAULT_AT - 2:
        run.cleanup()
        pytest.fail(f"`portal run` took {took:.0f} s to start: the fault could not be placed around the reminders")
    return run, first


def _wait_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def _assert_same_children(run: PortalRun, first: dict[str, int]) -> None:
    time.sleep(3)  # long enough for a worker or cron that could not bear the fault to have exited
    now = run.pids()
    assert (now.get("worker"), now.get("cron")) == (first["worker"], first["cron"]), (
        f"restarted by the launcher: before {first}, after {now}\n{run.tail()}"
    )
    assert "exited with code" not in run.text(), run.tail()


def test_a_database_outage_loses_and_doubles_no_reminder(tmp_path, db, make_user, make_session, make_seat):
    url = db.engine.url
    if url.get_backend_name() != "postgresql":
        pytest.skip("needs PostgreSQL (PORTAL_TEST_DATABASE_URL): SQLite is a file, it has no network to cut")
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    sink = TimedSink()
    sink.start()
    expected, stored_at = _store_sessions(db, make_user, make_session, make_seat, "Database outage")
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    env = portal_env(
        tmp_path / "instance",
        DATABASE_URL=proxied,
        REMINDER_OFFSETS="1m",
        WORKER_HEARTBEAT_SECONDS="1",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(sink.port),
        SMTP_TLS="none",
        SMTP_TIMEOUT_SECONDS="5",
    )
    run = None
    try:
        run, first = _start(tmp_path, env, stored_at, "db-outage")
        _wait_until(stored_at + FAULT_AT)
        proxy.cut()
        probe = sa.create_engine(proxied, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 2})
        with pytest.raises(sa.exc.OperationalError):  # the proxy refuses: the fault is real
            probe.connect().close()
        _wait_until(stored_at + FAULT_AT + FAULT_SECONDS)
        proxy.restore()
        fault_end = time.monotonic()
        run.wait_for(lambda: (run.healthz() or {}).get("database") == "ok", 30, "/healthz after the outage")
        _check_delivery(run, sink, expected, fault_end)
        _assert_same_children(run, first)
    finally:
        if run is not None:
            run.cleanup()
        proxy.stop()
        sink.stop()


def test_an_smtp_server_refusing_loses_and_doubles_no_reminder(tmp_path, db, make_user, make_session, make_seat):
    if db.engine.url.get_backend_name() == "postgresql":
        # The refusals happen between the worker and the SMTP server; the send-once claims around them are the
        # same statements on both engines and the database outage above covers PostgreSQL's side. One 80-second
        # run (in the README's pass, on SQLite) keeps CI within its time.
        pytest.skip("the SMTP refusal does not depend on the database engine: the SQLite pass runs it")
    sink = TimedSink()
    sink.start()
    expected, stored_at = _store_sessions(db, make_user, make_session, make_seat, "SMTP refusal")
    env = portal_env(
        tmp_path / "instance",
        DATABASE_URL=db.engine.url.render_as_string(hide_password=False),
        REMINDER_OFFSETS="1m",
        WORKER_HEARTBEAT_SECONDS="1",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(sink.port),
        SMTP_TLS="none",
        SMTP_TIMEOUT_SECONDS="5",
    )
    run = None
    try:
        run, first = _start(tmp_path, env, stored_at, "smtp-refusal")
        _wait_until(stored_at + FAULT_AT)
        sink.refuse(451, "4.3.0 Try again later")
        _wait_until(stored_at + FAULT_AT + FAULT_SECONDS / 2)
        sink.refuse(421, "4.3.2 Service not available")
        _wait_until(stored_at + FAULT_AT + FAULT_SECONDS)
        sink.accept()
        fault_end = time.monotonic()
        assert sink.refused > 0, "nothing was refused: the fault missed the reminders\n" + run.tail()
        _check_delivery(run, sink, expected, fault_end)
        _assert_same_children(run, first)
    finally:
        if run is not None:
            run.cleanup()
        sink.stop()
