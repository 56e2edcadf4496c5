"""A person's private calendar feed (SPEC "Calendar feed"): the address, its reset, and what it holds.

The feed holds the sessions the person has a seat or a waitlist place in and those they teach (lead instructor),
from FEED_PAST back to FEED_AHEAD ahead by start time; sessions canceled with their seat still held say so. One
SQL statement reads them all, however many there are.

The address's secret is `<selector><check>` (see feed_models): the selector finds the row through its unique
index, the check (an HMAC-SHA256 of user id and selector under SECRET_KEY) is compared in constant time. Guessing
means guessing 128 random bits of selector and then 256 bits of HMAC: no rate limit would make that any harder, and
a wrong guess costs one indexed lookup (a malformed one not even that). Changing SECRET_KEY changes every address
(the old ones answer 404; the owner's page shows the new one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, union

from portal.accounts.models import User
from portal.config import current_settings
from portal.core.clock import now_utc
from portal.core.db import upsert_insert
from portal.extensions import db
from portal.seats.feed_models import CalendarFeed
from portal.seats.models import Seat, SeatStatus
from portal.training.ics import FeedEntry, calendar_ics
from portal.training.models import SessionAssistant, SessionStatus, TrainingSession

FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=365)
SELECTOR_BYTES = 16  # 128 random bits → 22 url-safe characters
SELECTOR_LENGTH = 22
CHECK_LENGTH = 43  # an HMAC-SHA256, url-safe base64 without padding
SECRET_PATTERN = re.compile(rf"[A-Za-z0-9_-]{{{SELECTOR_LENGTH + CHECK_LENGTH}}}")
# A seat released by the session's cancel is stamped within the cancel's request; one released well before the
# session was canceled is the person's own cancel, and that session is no longer theirs.
RELEASED_WITH_CANCEL = timedelta(minutes=1)
FEED_FORMAT = "1"  # part of the ETag: bump when the .ics layout changes, so clients fetch it again


# ------------------------------------------------------------------------------------------------ the secret
def _check(user_id: int, selector: str) -> str:
    key = (current_settings().SECRET_KEY or "").encode()
    digest = hmac.new(key, f"portal.calendar-feed|{user_id}|{selector}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _new_selector() -> str:
    return secrets.token_urlsafe(SELECTOR_BYTES)


def feed_secret(user: User) -> str:
    """The secret part of `user`'s feed address; the feed is made on first use (two first uses at once agree)."""
    selector = db.session.scalar(select(CalendarFeed.selector).where(CalendarFeed.user_id == user.id))
    if selector is None:
        db.session.execute(
            upsert_insert(CalendarFeed, db.session)
            .values(user_id=user.id, selector=_new_selector(), created_at=now_utc(), updated_at=now_utc())
            .on_conflict_do_nothing(index_elements=["user_id"])
        )
        selector = db.session.scalar(select(CalendarFeed.selector).where(CalendarFeed.user_id == user.id))
    return selector + _check(user.id, selector)


def reset_feed(user: User) -> str:
    """A new address for `user`'s feed; the old one answers 404 from now on. Returns the new secret."""
    feed = db.session.get(CalendarFeed, user.id)
    if feed is None:
        return feed_secret(user)
    feed.selector = _new_selector()
    db.session.flush()
    return feed.selector + _check(user.id, feed.selector)


def feed_owner(secret: str) -> User | None:
    """The active person whose feed `secret` opens, or None (unknown, reset, malformed, or a deactivated owner)."""
    if not isinstance(secret, str) or not SECRET_PATTERN.fullmatch(secret):
        return None
    selector, check = secret[:SELECTOR_LENGTH], secret[SELECTOR_LENGTH:]
    row = db.session.execute(
        select(CalendarFeed.user_id, User)
        .join(User, User.id == CalendarFeed.user_id)
        .where(CalendarFeed.selector == selector)
    ).first()
    if row is None:
        return None
    user_id, user = row
    if not hmac.compare_digest(check.encode(), _check(user_id, selector).encode()):
        return None
    return user if user.is_active else None


# ------------------------------------------------------------------------------------------------ the content
@dataclass(frozen=True)
class FeedItem:
    session: TrainingSession
    seat_status: str | None  # confirmed / waitlisted / canceled (released with the session), None: taught only
    teaches: bool

    @property
    def canceled(self) -> bool:
        return self.session.status == SessionStatus.CANCELED.value

    @property
    def note(self) -> str:
        if self.teaches:
            return "You teach this session."
        if self.canceled:
            return "This session was canceled."
        if self.seat_status == SeatStatus.WAITLISTED.value:
            return "You are on the waitlist."
        return "You have a seat."


def feed_items(user: User, *, now: datetime | None = None) -> list[FeedItem]:
    """The sessions of `user`'s feed, by start time, in one SQL statement: the ids of sessions with a seat row of
    theirs, of sessions they lead and of those they assist, unioned (each through its own index), then those
    sessions in the window with the seat (if any) joined."""
    now = now or now_utc()
    start, end = now - FEED_PAST, now + FEED_AHEAD
    assisted = select(SessionAssistant.session_id).where(SessionAssistant.user_id == user.id)
    mine = union(
        select(Seat.session_id).where(Seat.user_id == user.id),
        assisted,
        select(TrainingSession.id).where(
            TrainingSession.instructor_id == user.id,
            TrainingSession.archived_at.is_(None),
            TrainingSession.start_time >= start,
            TrainingSession.start_time <= end,
        ),
    )
    rows = db.session.execute(
        select(TrainingSession, Seat.status, Seat.canceled_at, TrainingSession.id.in_(assisted))
        .outerjoin(Seat, (Seat.session_id == TrainingSession.id) & (Seat.user_id == user.id))
        .where(
            TrainingSession.id.in_(mine),
            TrainingSession.archived_at.is_(None),
            TrainingSession.start_time >= start,
            TrainingSession.start_time <= end,
        )
        .order_by(TrainingSession.start_time, TrainingSession.id)
    ).all()
    items = []
    for session, seat_status, seat_canceled_at, assists in rows:
        teaches = session.instructor_id == user.id or bool(assists)
        if not teaches and not _still_theirs(session, seat_status, seat_canceled_at):
            continue
        items.append(FeedItem(session, seat_status, teaches))
    return items


def _still_theirs(session: TrainingSession, seat_status: str | None, seat_canceled_at: datetime | None) -> bool:
    if seat_status in (SeatStatus.CONFIRMED.value, SeatStatus.WAITLISTED.value):
        return True
    # A canceled session releases every seat: those released by that cancel stay in the feed, as canceled.
    return (
        seat_status == SeatStatus.CANCELED.value
        and session.status == SessionStatus.CANCELED.value
        and seat_canceled_at is not None
        and session.updated_at is not None
        and seat_canceled_at >= session.updated_at - RELEASED_WITH_CANCEL
    )


def feed_etag(user: User, secret: str, items: list[FeedItem]) -> str:
    """Changes whenever the body would: the address, the base URL, and each session's id, last change and status
    and the person's part in it (the body's every field comes from those)."""
    digest = hashlib.sha256()
    digest.update(f"{FEED_FORMAT}|{current_settings().BASE_URL}|{secret}|{user.name}".encode())
    for item in items:
        changed = item.session.updated_at.isoformat() if item.session.updated_at else "-"
        digest.update(f"|{item.session.id}:{changed}:{item.session.status}:{item.seat_status}:{item.teaches}".encode())
    return digest.hexdigest()[:32]


def feed_ics(user: User, items: list[FeedItem]) -> bytes:
    entries = [FeedEntry(item.session, canceled=item.canceled, note=item.note) for item in items]
    return calendar_ics(entries, base_url=current_settings().BASE_URL, name=f"Training Portal: {user.name}")
