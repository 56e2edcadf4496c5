"""`portal demo`: demo users of every role, events and sessions at useful moments, seats for some members.

Safe to run again: users and events are found by email and title; a demo session is created only when no
upcoming session with its title exists yet (so a rerun the next day brings the near-term ones back).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import click
from sqlalchemy import select

from portal.accounts import operations as accounts
from portal.config import current_settings
from portal.core import migrate
from portal.core.cli import with_app
from portal.core.clock import now_utc
from portal.core.errors import DomainError
from portal.core.redis import stop_embedded
from portal.core.timezones import format_local
from portal.events import operations as events
from portal.events.models import Event
from portal.extensions import db
from portal.seats import operations as seats
from portal.training import operations as training
from portal.training import rooms
from portal.training.links import session_url
from portal.training.models import EndReason, RoomStatus, SessionStatus, TrainingSession

DEMO_DOMAIN = "portal.example"


@dataclass(frozen=True)
class DemoUser:
    key: str
    name: str
    role: str
    timezone: str

    @property
    def email(self) -> str:
        return f"{self.key}@{DEMO_DOMAIN}"


USERS = [
    DemoUser("admin", "Ada Admin", "admin", "Europe/London"),
    DemoUser("board", "Bo Board", "board_member", "Europe/Berlin"),
    DemoUser("sensei", "Sensei Kenji Ito", "instructor", "Europe/Berlin"),
    DemoUser("coach", "Coach Maria Silva", "instructor", "America/New_York"),
    DemoUser("member1", "Mina Member", "member", "Europe/Berlin"),
    DemoUser("member2", "Max Member", "member", "Asia/Tokyo"),
    DemoUser("member3", "Mo Member", "member", "America/Los_Angeles"),
    DemoUser("guest", "Gina Guest", "public", "Europe/Paris"),
]

# The instructors' profile bios (plain text, line breaks kept). A bio edited on /account is kept on a rerun.
BIOS = {
    "sensei": "6th dan, teaching since 1998 in Osaka and Berlin.\n"
    "Kata, bunkai and the basics done right. Bring water and patience.",
    "coach": "4th dan and a former national team member.\n"
    "Conditioning, kumite drills and warm-ups that even work in a small living room.",
}

# The brand the demo suggests: settings, so they go into the environment, never the database (README: "A brand").
DEMO_BRAND = {
    "PORTAL_BRAND_NAME": "Kaizen Karate Association",
    "PORTAL_BRAND_PRIMARY_COLOR": "#9b1c1c",
    "PORTAL_BRAND_ACCENT_COLOR": "#f2b705",
}

EVENTS = [  # title, visibility, starts in, lasts, location
    ("Online dojo week", "public", timedelta(hours=-1), timedelta(days=7), "Online"),
    ("Winter seminar", "public", timedelta(days=2), timedelta(days=2), "Sports hall Nord, Berlin"),
    ("Members' grading", "members", timedelta(days=10), timedelta(hours=6), "Main dojo"),
]

SESSIONS: list[dict[str, Any]] = [  # starts_in, instructor key, event title, seats for
    {
        "title": "Kata clinic (starting soon)",
        "starts_in": timedelta(minutes=5),
        "instructor": "sensei",
        "event": "Online dojo week",
        "capacity": 12,
        "is_public": True,
        "members_only": True,
        "recording_enabled": True,
        "tags": ["kata"],
        "seats_for": ["member1", "member2"],
    },
    {
        "title": "Warm-up and basics",
        "starts_in": timedelta(minutes=12),
        "instructor": "sensei",
        "event": "Online dojo week",
        "capacity": 20,
        "is_public": True,
        "members_only": False,
        "tags": ["basics", "beginners"],
        "seats_for": ["member1"],
    },
    {
        "title": "Kumite tactics",
        "starts_in": timedelta(days=1),
        "instructor": "coach",
        "event": "Online dojo week",
        "capacity": 2,
        "is_public": False,
        "members_only": True,
        "tags": ["kumite"],
        "seats_for": ["member1", "member2", "member3"],
    },  # the third goes on the waitlist
    {
        "title": "Open class for newcomers",
        "starts_in": timedelta(days=3),
        "instructor": "coach",
        "event": "Winter seminar",
        "capacity": None,
        "is_public": True,
        "members_only": False,
        "tags": ["open"],
        "seats_for": [],
    },
    {
        "title": "Grading preparation",
        "starts_in": timedelta(days=9),
        "instructor": "sensei",
        "event": "Members' grading",
        "capacity": 30,
        "is_public": False,
        "members_only": True,
        "recording_enabled": True,
        "tags": ["grading"],
        "seats_for": ["member3"],
    },
]


@click.command(help="Load demo users (every role), events and sessions; prints how to sign in. Safe to rerun.")
@click.option("--password", default="demo-password", show_default=True, help="Password of every demo user.")
@with_app
def demo(password: str) -> None:

    if current_settings().is_production:
        raise click.ClickException("refusing to load demo users with a shared password in production")
    try:
        migrate.upgrade()
        users = {spec.key: _ensure_user(spec, password) for spec in USERS}
        events = {title: _ensure_event(title, *rest, creator=users["board"]) for title, *rest in EVENTS}
        db.session.commit()
        created = [_ensure_session(spec, users, events) for spec in SESSIONS]
        _ensure_past_session(users["sensei"], events["Online dojo week"])
        db.session.commit()
        _print_summary(users, password, created)
    finally:
        if not current_settings().REDIS_URL:
            # The sessions' provisioning jobs started the embedded Redis; stop it cleanly (it keeps the jobs on disk
            # for `portal run`, and the room sweep would find the work anyway).
            stop_embedded(current_settings().INSTANCE_PATH)


def _ensure_user(spec: DemoUser, password: str):
    user = accounts.find_by_email(spec.email)
    if user is None:
        user = accounts.create_user(spec.email, spec.name, password, role=spec.role, timezone=spec.timezone)
    if spec.key in BIOS and not user.bio:
        user.bio = BIOS[spec.key]
    return user


def _ensure_event(title: str, visibility: str, starts_in: timedelta, length: timedelta, location: str, *, creator):

    event = db.session.scalar(select(Event).where(Event.title == title))
    if event is None:
        start = _round(now_utc() + starts_in)
        event = events.create_event(
            {
                "title": title,
                "visibility": visibility,
                "start_time": start,
                "end_time": start + length,
                "location": location,
                "description": f"{title}: a demo event.",
            },
            actor=creator,
        )
    return event


def _ensure_session(spec: dict[str, Any], users: dict, events: dict):

    existing = db.session.scalar(
        select(TrainingSession).where(
            TrainingSession.title == spec["title"],
            TrainingSession.status == SessionStatus.SCHEDULED.value,
            TrainingSession.end_time > now_utc(),
        )
    )
    if existing is not None:
        return existing
    start = now_utc() + spec["starts_in"]
    start = (
        start.replace(second=0, microsecond=0) + timedelta(minutes=1)
        if spec["starts_in"] < timedelta(hours=1)
        else _round(start)
    )
    data = {key: spec[key] for key in ("title", "capacity", "is_public", "members_only", "tags")}
    data.update(
        start_time=start,
        duration_minutes=60,
        event_id=events[spec["event"]].id,
        recording_enabled=spec.get("recording_enabled", False),
        description=f"{spec['title']} with {users[spec['instructor']].name}.",
    )
    session = training.create_session(data, actor=users[spec["instructor"]])
    _prepare_room_and_seats(session, [users[key] for key in spec["seats_for"]])
    db.session.commit()
    return session


def _prepare_room_and_seats(session, members: list) -> None:

    if session.start_time - now_utc() < timedelta(hours=current_settings().PROVISION_AHEAD_HOURS):
        try:
            rooms.ensure_room(session)  # ready now, so the instructor can start at once
        except DomainError as exc:
            click.echo(f"  (room for “{session.title}” not ready yet: {exc.message}; the worker retries)")
    for member in members:
        try:
            seats.reserve(session, member)
        except DomainError as exc:
            click.echo(f"  (no seat for {member.name} in “{session.title}”: {exc.message})")


def _ensure_past_session(instructor, event) -> None:
    """An ended session from last week, so past lists and the audit log have something in them."""

    title = "Last week's review"
    if db.session.scalar(select(TrainingSession).where(TrainingSession.title == title)) is not None:
        return
    start = _round(now_utc() - timedelta(days=6))
    session = TrainingSession(
        title=title,
        description="A session that already took place.",
        instructor_id=instructor.id,
        event_id=event.id,
        is_public=True,
        status=SessionStatus.ENDED.value,
        room_status=RoomStatus.INACTIVE.value,
        started_at=start,
        ended_at=start + timedelta(minutes=55),
        end_reason=EndReason.INSTRUCTOR.value,
        tags=["review"],
    )
    session.set_schedule(start, 60)
    db.session.add(session)


def _round(value: datetime) -> datetime:
    """To the next full hour: demo times read nicely."""
    return value.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def _print_summary(users: dict, password: str, sessions: list) -> None:

    base = current_settings().BASE_URL.rstrip("/")
    click.echo(f"Demo data is ready. Sign in at {base}/login with password “{password}”:")
    for spec in USERS:
        click.echo(f"  {spec.role:<13} {spec.email:<28} {users[spec.key].name} ({spec.timezone})")
    click.echo("Sessions:")
    for session in sorted(sessions, key=lambda s: s.start_time):
        click.echo(f"  {format_local(session.start_time, 'UTC'):<28} {session.title}  {session_url(session.id, base)}")
    click.echo("Instructor pages:")
    for key in BIOS:
        click.echo(f"  {users[key].name:<28} {base}/instructors/{users[key].id}")
    if current_settings().BRAND_NAME == "Training Portal":
        click.echo("To try a brand, start the portal with: " + " ".join(f"{k}='{v}'" for k, v in DEMO_BRAND.items()))
