"""Sending rows once, whatever their channel: the states of a row (pending -> sending -> sent; skipped; failed),
the send job and its enqueueing. The channel is looked up by the row's `channel` (portal.notifications.channels):
nothing here knows what a channel does.

Batches: one send job (`send_batch`, on the "mail" queue) sends up to BATCH_SIZE rows, each channel over one
connection it opens once (a channel with `connection(settings)`, as email has: one SMTP connection for the batch).
Who gets what is read once per batch (recipients, sessions, seats); each row is still claimed on its own right
before it is sent, and recorded 'sent' right after (in the same commit as the next row's claim: one commit per
message). The next email is composed while the previous one is in its SMTP exchange (on a sending thread:
`_Sender`), and handed over only once the previous one's outcome is known. A channel that fails stops that channel's
rows in this batch: the failed row waits out its backoff, the others stay pending untouched, and a dispatch is
scheduled for the retry moment.

Delivery guarantee: a row is sent by whoever flips it pending -> sending (a conditional UPDATE; a batch claims up to
CLAIM_CHUNK rows in one, each on its own terms). A failure before the channel accepted the message puts it back to
pending (retried with backoff, up to MAX_SEND_ATTEMPTS). A worker killed while holding a claim leaves it 'sending';
after STALE_CLAIM_AFTER the sweep puts it back to pending. Right after the channel accepted a message, a mark is
written to Redis (no round trip: the reply is read later); 'sent' is committed with the next chunk's claims, and
retried with backoff for RECORD_SENT_FOR (a database outage of minutes). The stale-claim recovery records a marked
row as 'sent' instead of sending it again. What remains at-least-once: the worker killed between the channel's
"accepted" (an SMTP server's 250) and the mark's write to the socket (microseconds), Redis lost as well as the
database record (Redis restarted without its data while the database was down for longer than RECORD_SENT_FOR),
or the server's 250 lost on the wire (the protocol's own window: the client cannot know the message was taken). A
re-sent email has the same Message-ID (mail clients fold the copy). Everywhere else: once.

A send job may wait in the queue while its session is rescheduled: right before claiming, it re-checks that a
reminder is due now for the session's current start time, and the claim holds only if the row still has the
moment that was checked. A re-timed row stays pending and is sent at its new moment (planning schedules a dispatch
for it; the sweep is the safety net).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import redis
from flask import current_app
from rq.timeouts import JobTimeoutException
from sqlalchemy import case, select, tuple_, update
from sqlalchemy.exc import SQLAlchemyError

from portal.accounts.models import User
from portal.config import Settings, current_settings
from portal.core.clock import now_utc
from portal.core.queue import MAIL_QUEUE, QUEUE_NAME, enqueue, enqueue_after_commit, get_redis
from portal.extensions import db
from portal.notifications import consent, queries
from portal.notifications.channels import channel_named
from portal.notifications.models import Notification, NotificationStatus
from portal.notifications.rules import (
    MAX_SEND_ATTEMPTS,
    is_reminder,
    is_reminder_recipient,
    notice_not_owed,
    reminder_not_due,
    reminder_not_owed,
    send_backoff,
)
from portal.training.models import TrainingSession

log = logging.getLogger(__name__)
PENDING, SENDING, SENT, SKIPPED, FAILED = (s.value for s in NotificationStatus)
ID_BATCH = 1000  # ids per UPDATE ... IN: well below SQLite's cap on the bound values of one statement
BATCH_SIZE = 100  # rows per send job: one SMTP connection each (mailer.Connection reconnects before ~100)
# A batch's job timeout. Each claim lives far shorter than STALE_CLAIM_AFTER: one message's SMTP exchange is bounded
# by SMTP_TIMEOUT_SECONDS per command, then recording it by RECORD_SENT_FOR.
BATCH_TIMEOUT = 900
RECORD_SENT_FOR = 180.0  # seconds of retrying to record 'sent' (a database outage); < STALE_CLAIM_AFTER - one send
SENT_MARK_TTL = 86400  # seconds a Redis mark "accepted, not yet recorded" is kept (removed once recorded)
CLAIM_CHUNK = 20  # rows claimed in one UPDATE (and recorded sent in one): one commit per 20 messages, not 2 each
DISPATCH_JOB = "portal.notifications.jobs.dispatch_due"  # the moment job (a higher module: named, not imported)
DISPATCH_TIMEOUT = 120
# Compose the next message while the previous one is in its SMTP exchange, on a sending thread (_Sender). Off: since
# a reminder's bodies are rendered once per burst (emails.SHARED_BODIES), composing costs less than the thread's
# handovers and waits for the interpreter, and one after the other is as fast or faster (bench/mail_burst.py,
# interleaved: 0.49-0.52x of raw smtplib off against 0.41-0.49x on; docs/performance.md). "1" turns it on, for
# the benchmarks' comparison
PIPELINE = os.environ.get("PORTAL_BENCH_SEND_PIPELINE", "0") == "1"


# ------------------------------------------------------------------------------------------------ enqueueing
def send_job_id(rows: list[Notification]) -> str:
    """One job per set of rows and attempts: two dispatchers enqueueing the same rows at the same attempts (the
    minute sweep and a moment's dispatch) collide on the id (unique=True)."""
    first = rows[0]
    if len(rows) == 1:
        return f"send-{first.id}-{first.attempts}"
    digest = hashlib.blake2b(",".join(f"{r.id}.{r.attempts}" for r in rows).encode(), digest_size=8).hexdigest()
    return f"send-{first.id}-{first.attempts}-{len(rows)}-{digest}"


def enqueue_send(notification: Notification, *, after_commit: bool = False) -> None:
    enqueue_send_many([notification], after_commit=after_commit)


def enqueue_send_many(rows: list[Notification], *, after_commit: bool = False) -> int:
    """One send job per BATCH_SIZE rows, on the mail queue. Returns the number of jobs."""
    jobs = 0
    for start in range(0, len(rows), BATCH_SIZE):
        chunk = rows[start : start + BATCH_SIZE]
        options = {
            "job_id": send_job_id(chunk),
            "unique": True,
            "job_timeout": BATCH_TIMEOUT,
            "result_ttl": 3600,
            "failure_ttl": 7 * 86400,
            "queue_name": MAIL_QUEUE,
        }
        ids = [row.id for row in chunk]
        if after_commit:
            enqueue_after_commit(db.session, send_batch, ids, **options)
        else:
            enqueue(send_batch, ids, **options)
        jobs += 1
    return jobs


def dispatch_job_id(at: datetime) -> str:
    return f"mail-at-{int(at.timestamp())}"


def schedule_dispatch(moments: Iterable[datetime], *, after_commit: bool = False) -> None:
    """Have the due rows sent at each of these moments (a reminder's due time, a retry's end of backoff): one
    dispatch job per whole second, however many rows and processes ask for it. Moments already past are left to
    whoever is dispatching now (and the minute sweep)."""
    now = now_utc()
    for at in sorted({m.replace(microsecond=0) + timedelta(seconds=1 if m.microsecond else 0) for m in moments}):
        if at <= now:
            continue
        options = {
            "job_id": dispatch_job_id(at),
            "unique": True,
            "at": at,
            "job_timeout": DISPATCH_TIMEOUT,
            "result_ttl": 600,
            "failure_ttl": 86400,
            "queue_name": QUEUE_NAME,
        }
        if after_commit:
            enqueue_after_commit(db.session, DISPATCH_JOB, **options)
        else:
            enqueue(DISPATCH_JOB, **options)


# ------------------------------------------------------------------------------------------------ the send job
def send_notification(notification_id: int) -> str:
    """One row (jobs queued before batches, and tests): a batch of one."""
    return send_batch([notification_id])


def send_batch(notification_ids: list[int]) -> str:
    """Send these rows, each once, on its channel; one connection per channel for the whole batch. Re-checks,
    right before each claim, that the row is still wanted and due for its session's current time (a reschedule
    after the job was queued re-times the row: it waits for its new moment). Safe to run twice or concurrently.
    Raises (the job is marked failed) if a channel failed; its other rows are left pending for the retry."""
    settings = current_settings()
    session = db.session()
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False  # no reload after each commit
    counts: Counter[str] = Counter()
    connections: dict[str, Any] = {}
    failures: dict[str, str] = {}
    try:
        _send_rows(_load(notification_ids), settings, connections, failures, counts)
    finally:
        session.expire_on_commit = expire_on_commit
        for connection in connections.values():
            _close_quietly(connection)
    summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()) if n) or "nothing to do"
    if failures:
        raise DeliveryFailed(f"{summary}; " + "; ".join(f"{ch}: {why}" for ch, why in failures.items()))
    return summary


class DeliveryFailed(Exception):
    """A channel did not accept a message: its rows wait for the retry (the job is marked failed)."""


class _Batch:
    """What the checks of a batch read once: the rows' people, sessions and confirmed seats."""

    def __init__(self, rows: list[Notification]):
        user_ids = {row.user_id for row in rows}
        self.users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids))).all()}
        self.sessions = queries.sessions_by_id({row.session_id for row in rows})
        self.seated = queries.confirmed_pairs(set(self.sessions), user_ids)


def _load(ids: list[int]) -> tuple[list[Notification], _Batch]:
    rows = list(
        db.session.scalars(
            select(Notification)
            .where(Notification.id.in_(ids), Notification.status == PENDING)
            .order_by(Notification.due_at, Notification.id)
        ).all()
    )
    return rows, _Batch(rows)


def _send_rows(
    loaded: tuple[list[Notification], _Batch],
    settings: Settings,
    connections: dict[str, Any],
    failures: dict[str, str],
    counts: Counter[str],
) -> None:
    rows, batch = loaded
    unrecorded: list[int] = []  # accepted by their channel (marked in Redis), 'sent' not committed yet
    marks = _AcceptedMarks()
    sender = _Sender(marks, unrecorded, failures, counts)
    try:
        for start in range(0, len(rows), CLAIM_CHUNK):
            sender.finish()  # the previous chunk's last message: accepted (and marked) or failed
            wanted = [row for row in rows[start : start + CLAIM_CHUNK] if _wanted(row, batch, failures, counts)]
            previous, unrecorded[:] = list(unrecorded), []
            marks.settle()
            claimed = _record_and_claim(previous, wanted)
            counts["claimed elsewhere or re-timed"] += len(wanted) - len(claimed)
            for row in (r for r in wanted if r.id in claimed):
                if row.channel in failures:  # its channel failed on an earlier row of this chunk
                    _unclaim(row.id)
                    counts["left for the retry"] += 1
                    continue
                try:
                    send = _prepare(row, batch, settings, connections)
                except JobTimeoutException:
                    raise  # the row stays 'sending': the stale-claim recovery decides (never accepted: sent again)
                except Exception as exc:
                    sender.finish()
                    failures[row.channel] = f"{type(exc).__name__}: {exc}"
                    _release_after_failure(row, failures[row.channel])
                    counts["failed"] += 1
                    continue
                sender.finish()  # the message before this one, sent while this one was composed
                if row.channel in failures:
                    _unclaim(row.id)
                    counts["left for the retry"] += 1
                    continue
                sender.start(row, send, pipelined=PIPELINE and row.channel in connections)
        sender.finish()
    finally:
        sender.close()
        marks.close()
        if unrecorded:
            _record_sent(list(unrecorded))
        else:
            _commit_quietly()  # skips of the last rows


class _Sender:
    """Sends one message at a time, on a thread of its own for channels with a connection (email): the SMTP
    exchange of one message (mostly waiting for the server) overlaps with composing the next one. The next message
    is handed over only after the previous one's outcome is known (`finish`), so a channel that failed sends
    nothing more, and the claims, marks and records stay per message as without the thread: the mark in Redis is
    written by the sending thread right after the channel accepted the message."""

    def __init__(self, marks: _AcceptedMarks, unrecorded: list[int], failures: dict[str, str], counts: Counter[str]):
        self.marks, self.unrecorded, self.failures, self.counts = marks, unrecorded, failures, counts
        self._pool: ThreadPoolExecutor | None = None
        self._in_flight: tuple[Notification, Future] | None = None

    def start(self, row: Notification, send: Callable[[], str], *, pipelined: bool) -> None:
        def send_and_mark() -> str:
            where = send()
            self.marks.mark(row.id)
            return where

        if not pipelined:
            future: Future = Future()
            try:
                future.set_result(send_and_mark())
            except JobTimeoutException:
                raise
            except Exception as exc:
                future.set_exception(exc)
            self._in_flight = (row, future)
            self.finish()
            return
        if self._pool is None:
            app = current_app._get_current_object()  # the marks may need Redis (get_redis) in the thread
            self._pool = ThreadPoolExecutor(1, "portal-send", initializer=lambda: app.app_context().push())
        self._in_flight = (row, self._pool.submit(send_and_mark))

    def finish(self) -> None:
        """Wait for the message in flight, if any, and record its outcome."""
        if self._in_flight is None:
            return
        row, future = self._in_flight
        try:
            where = future.result()
        except JobTimeoutException:
            raise  # still in flight: close() waits for it and records it if it was accepted
        except Exception as exc:
            self._in_flight = None
            self.failures[row.channel] = f"{type(exc).__name__}: {exc}"
            _release_after_failure(row, self.failures[row.channel])
            self.counts["failed"] += 1
            return
        self._in_flight = None
        self.unrecorded.append(row.id)
        self.counts["sent"] += 1
        log.info("notification %s (%s to user %s) sent by %s: %s", row.id, row.kind, row.user_id, row.channel, where)

    def close(self) -> None:
        """After an error: a message still in flight is waited for (its mark decides if it went), never dropped."""
        if self._in_flight is not None:
            row, future = self._in_flight
            self._in_flight = None
            with contextlib.suppress(Exception):
                future.result()
                self.unrecorded.append(row.id)
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def _wanted(row: Notification, batch: _Batch, failures: dict[str, str], counts: Counter[str]) -> bool:
    """The checks right before the claim: still wanted (else skipped, with its reason) and due now."""
    if row.channel in failures:
        counts["left for the retry"] += 1
        return False
    session = batch.sessions.get(row.session_id) if row.session_id else None
    why_not = _why_not(row, session, batch.users.get(row.user_id), batch.seated)
    if why_not:
        skip([row.id], why_not)  # committed with the next claim, or at the end
        counts["skipped"] += 1
        return False
    if _not_now(row, session):
        counts["not due now"] += 1
        return False
    return True


def _record_and_claim(unrecorded: list[int], rows: list[Notification]) -> set[int]:
    """One commit: the previous chunk's 'sent' and this chunk's claims. If the database fails here, the previous
    chunk is recorded on its own, with the long retry."""
    try:
        if unrecorded:
            mark_sent(unrecorded)
        claimed = claim_many(rows)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        if unrecorded:
            _record_sent(unrecorded)
        raise
    if unrecorded:
        _forget_accepted(unrecorded)
    return claimed


def _prepare(row: Notification, batch: _Batch, settings: Settings, connections: dict[str, Any]) -> Callable[[], str]:
    """Compose the row's message now; what sends it (on the channel's connection for the batch, if it has one)."""
    channel = channel_named(row.channel)
    session = batch.sessions.get(row.session_id) if row.session_id else None
    message = channel.compose(row, batch.users[row.user_id], session, settings)
    opener = getattr(channel, "connection", None)
    if opener is None:  # a channel without connections: one delivery each
        return lambda: channel.deliver(message, settings)
    if row.channel not in connections:
        connections[row.channel] = opener(settings)
    connection = connections[row.channel]
    return lambda: connection.deliver(message)


def _close_quietly(connection: Any) -> None:
    try:
        connection.close()
    except Exception as exc:  # a connection that broke is dropped all the same
        log.debug("closing a channel connection: %s", exc)


def _commit_quietly() -> None:
    try:
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("could not record skipped notifications (the next dispatch skips them again): %s", exc)


def _release_after_failure(row: Notification, error: str) -> None:
    """The channel did not accept the message: back to pending (or failed after MAX_SEND_ATTEMPTS), and a
    dispatch at the end of its backoff."""
    attempts = row.attempts + 1  # the claim counted this one
    log.warning("notification %s (%s by %s) not sent, attempt %s: %s", row.id, row.kind, row.channel, attempts, error)
    try:
        db.session.execute(
            update(Notification)
            .where(Notification.id == row.id, Notification.status == SENDING)
            .values(
                status=case((Notification.attempts < MAX_SEND_ATTEMPTS, PENDING), else_=FAILED),
                last_error=error[:500],
                updated_at=now_utc(),
            ),
            execution_options=NO_SYNC,
        )
        db.session.commit()
    except SQLAlchemyError as exc:  # left 'sending': the stale-claim recovery puts it back to pending
        db.session.rollback()
        log.warning("notification %s: could not record the failure: %s", row.id, exc)
        return
    if attempts < MAX_SEND_ATTEMPTS:
        schedule_dispatch([now_utc() + send_backoff(attempts)])


def _record_sent(notification_ids: list[int]) -> None:
    """The messages are out: recording that must outlive a database outage (a row left 'sending' would be sent
    again after STALE_CLAIM_AFTER). Retried with backoff for RECORD_SENT_FOR; meanwhile the marks in Redis tell the
    stale-claim recovery that they were accepted."""
    deadline = time.monotonic() + RECORD_SENT_FOR
    delay = 0.2
    while True:
        try:
            mark_sent(notification_ids)
            db.session.commit()
            break
        except SQLAlchemyError as exc:
            db.session.rollback()
            if time.monotonic() + delay > deadline:
                log.error(
                    "notifications %s were accepted but could not be recorded as sent for %.0f s (%s); the marks in"
                    " Redis (if it is up) keep them from being sent again",
                    notification_ids,
                    RECORD_SENT_FOR,
                    exc,
                )
                raise
            log.warning("notifications %s accepted; recording them: %s (again in %.1f s)", notification_ids, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 15.0)
    _forget_accepted(notification_ids)


def _accepted_key(notification_id: int) -> str:
    return f"portal.notification.accepted.{notification_id}"


class _AcceptedMarks:
    """Marks in Redis, written right after each channel's "accepted" without waiting for Redis's reply (one write
    to the socket, no round trip: the replies are read at the end of each chunk). A worker killed before the
    database records 'sent' leaves the marks, and the stale-claim recovery records those rows instead of sending
    them again."""

    def __init__(self) -> None:
        self._pool: Any = None
        self._connection: Any = None
        self._unread = 0

    def mark(self, notification_id: int) -> None:
        try:
            if self._connection is None:
                self._pool = get_redis().connection_pool
                self._connection = self._pool.get_connection()
            self._connection.send_command("SET", _accepted_key(notification_id), "1", "EX", SENT_MARK_TTL)
            self._unread += 1
        except (redis.RedisError, OSError) as exc:
            log.warning("notification %s: could not mark it accepted in Redis: %s", notification_id, exc)
            self._drop()

    def settle(self) -> None:
        """Read the replies of the marks written so far (and notice a failure)."""
        try:
            while self._unread:
                self._connection.read_response()
                self._unread -= 1
        except (redis.RedisError, OSError) as exc:
            log.warning("accepted marks may be missing in Redis: %s", exc)
            self._drop()

    def close(self) -> None:
        self.settle()
        if self._connection is not None:
            self._pool.release(self._connection)
            self._connection = None

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.disconnect()
                self._pool.release(self._connection)
        self._connection, self._unread = None, 0


def _forget_accepted(notification_ids: list[int]) -> None:
    try:
        get_redis().delete(*(_accepted_key(i) for i in notification_ids))
    except (redis.RedisError, OSError) as exc:  # they expire after SENT_MARK_TTL
        log.debug("accepted marks not removed: %s", exc)


def _accepted_marks(ids: list[int]) -> set[int]:
    """Of these rows, those a worker marked accepted by their channel but could not record."""
    if not ids:
        return set()
    try:
        values = get_redis().mget([_accepted_key(i) for i in ids])
    except (redis.RedisError, OSError) as exc:
        log.warning("could not read the accepted marks in Redis: %s", exc)
        return set()
    return {i for i, value in zip(ids, values, strict=True) if value is not None}


def _why_not(
    row: Notification, session: TrainingSession | None, user: User | None, seated: set[tuple[int, int]]
) -> str | None:
    if user is None:
        return "the recipient's account is gone"
    refused = consent.why_not_send(user, row.kind)
    if refused:
        return refused
    if session is None:
        return "the session is gone" if row.session_id is not None else None  # None: an account email
    if is_reminder(row.kind):
        holds = user.id != session.instructor_id and (session.id, user.id) in seated
        return reminder_not_owed(
            session_status=session.status,
            start_time=session.start_time,
            now=now_utc(),
            is_recipient=is_reminder_recipient(
                user.id, instructor_id=session.instructor_id, holds_confirmed_seat=holds
            ),
        )
    if row.kind == "rescheduled" and session.is_final:
        return f"the session is {session.status}"
    if row.kind == "promoted" and (session.id, user.id) not in seated:
        return "no longer holds the seat"
    return notice_not_owed(
        row.kind,
        session_status=session.status,
        end_time=session.end_time,
        now=now_utc(),
        holds_seat=(session.id, user.id) in seated,
    )


def _not_now(row: Notification, session: TrainingSession | None) -> str | None:
    """Why a wanted row must wait (it stays pending): a reminder whose moment is not this one of its session."""
    if session is None or not is_reminder(row.kind):
        return None
    return reminder_not_due(row.kind, row.due_at, start_time=session.start_time, now=now_utc())


# ------------------------------------------------------------------------------------------------ sending states
NO_SYNC = {"synchronize_session": False}  # the identity map of a batch holds hundreds of rows: do not scan it


def claim(notification_id: int, *, due_at: datetime | None = None) -> bool:
    """pending -> sending, atomically; True only for the one caller that won. With `due_at`, only if the row
    still has that moment: a reschedule committed since the caller's checks re-timed it, and it waits."""
    conditions = [Notification.id == notification_id, Notification.status == PENDING]
    if due_at is not None:
        conditions.append(Notification.due_at == due_at)
    result = db.session.execute(
        update(Notification)
        .where(*conditions)
        .values(status=SENDING, claimed_at=now_utc(), attempts=Notification.attempts + 1, updated_at=now_utc()),
        execution_options=NO_SYNC,
    )
    return result.rowcount == 1


def claim_many(rows: list[Notification]) -> set[int]:
    """`claim` for many rows in one UPDATE, each on its own terms (still pending, still at the moment the caller
    checked); returns the ids this caller won."""
    if not rows:
        return set()
    now = now_utc()
    result = db.session.execute(
        update(Notification)
        .where(
            tuple_(Notification.id, Notification.due_at).in_([(row.id, row.due_at) for row in rows]),
            Notification.status == PENDING,
        )
        .values(status=SENDING, claimed_at=now, attempts=Notification.attempts + 1, updated_at=now)
        .returning(Notification.id),
        execution_options=NO_SYNC,
    )
    return set(result.scalars().all())


def _unclaim(notification_id: int) -> None:
    """A claimed row that was not tried (its channel failed on an earlier row): pending again, no attempt spent."""
    try:
        db.session.execute(
            update(Notification)
            .where(Notification.id == notification_id, Notification.status == SENDING)
            .values(status=PENDING, attempts=Notification.attempts - 1, updated_at=now_utc()),
            execution_options=NO_SYNC,
        )
        db.session.commit()
    except SQLAlchemyError as exc:  # left 'sending': the stale-claim recovery puts it back to pending
        db.session.rollback()
        log.warning("notification %s: could not hand back its claim: %s", notification_id, exc)


def mark_sent(notification_ids: int | list[int]) -> None:
    ids = [notification_ids] if isinstance(notification_ids, int) else notification_ids
    db.session.execute(
        update(Notification)
        .where(Notification.id.in_(ids), Notification.status == SENDING)
        .values(status=SENT, sent_at=now_utc(), last_error=None, updated_at=now_utc()),
        execution_options=NO_SYNC,
    )


def skip(notification_ids: list[int] | dict[int, str], reason: str | None = None) -> None:
    """Pending rows -> skipped with their reason: one UPDATE per distinct reason."""
    reasons = notification_ids if isinstance(notification_ids, dict) else dict.fromkeys(notification_ids, reason)
    by_reason: dict[str | None, list[int]] = defaultdict(list)
    for notification_id, why in reasons.items():
        by_reason[why].append(notification_id)
    now = now_utc()
    for why, ids in by_reason.items():
        for start in range(0, len(ids), ID_BATCH):
            db.session.execute(
                update(Notification)
                .where(Notification.id.in_(ids[start : start + ID_BATCH]), Notification.status == PENDING)
                .values(status=SKIPPED, last_error=why, updated_at=now),
                execution_options=NO_SYNC,
            )


def recover_stale_claims(ids: list[int]) -> int:
    """Claims left 'sending' by a worker that died: back to pending (the message was not confirmed sent), or
    'sent' when the worker left the mark that its channel accepted it (it could not record it: a database
    outage)."""
    if not ids:
        return 0
    accepted = _accepted_marks(ids)
    if accepted:
        db.session.execute(
            update(Notification)
            .where(Notification.id.in_(accepted), Notification.status == SENDING)
            .values(status=SENT, sent_at=now_utc(), last_error=None, updated_at=now_utc())
        )
    result = db.session.execute(
        update(Notification)
        .where(Notification.id.in_([i for i in ids if i not in accepted]), Notification.status == SENDING)
        .values(status=PENDING, last_error="the worker stopped while sending; retried", updated_at=now_utc())
    )
    return result.rowcount + len(accepted)
