"""Reads of events, filtered by what the viewer may see."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.core.errors import NotFound
from portal.core.validation import is_id
from portal.events import rules
from portal.events.models import Event, Visibility
from portal.extensions import db


def visible_to(viewer) -> sa.ColumnElement[bool]:
    """The WHERE clause for events `viewer` may see (rules.can_view, as SQL)."""
    if rules.can_view_all(viewer):
        return sa.true()
    return Event.visibility == Visibility.PUBLIC.value


def get_visible(event_id: int, viewer) -> Event:
    event = db.session.get(Event, event_id) if is_id(event_id) else None
    if event is None or not rules.can_view(event, viewer):
        raise NotFound(_l("Event not found."))
    return event


def get_public(event_id: int) -> Event:
    event = db.session.get(Event, event_id) if is_id(event_id) else None
    if event is None or not event.is_public:
        raise NotFound(_l("Event not found."))
    return event


def upcoming(viewer, *, now: datetime, limit: int = 50) -> list[Event]:
    """Events not over yet, soonest first."""
    stmt = (
        select(Event).where(visible_to(viewer), Event.end_time > now).order_by(Event.start_time, Event.id).limit(limit)
    )
    return list(db.session.scalars(stmt))


def past(viewer, *, now: datetime, limit: int = 20) -> list[Event]:
    stmt = (
        select(Event)
        .where(visible_to(viewer), Event.end_time <= now)
        .order_by(Event.start_time.desc(), Event.id)
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def choices() -> list[Event]:
    """Every event, for the event picker of the scheduling form (instructors are members: they see all)."""
    return list(db.session.scalars(select(Event).order_by(Event.start_time.desc(), Event.id).limit(200)))
