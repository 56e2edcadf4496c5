"""Writes of events. They flush and raise DomainErrors; the caller commits. Every change is audited."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from portal.accounts.models import User
from portal.audit.operations import diff, record
from portal.core.errors import Forbidden, ValidationFailed
from portal.events import rules
from portal.events.models import Event
from portal.extensions import db

ENTITY = "event"
FIELDS = ("title", "description", "start_time", "end_time", "location", "visibility")


def check_event_data(raw: dict[str, Any], *, event: Event | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    current = {"start_time": event.start_time, "end_time": event.end_time} if event is not None else None
    return rules.validate_event(raw, partial=event is not None, current=current)


def create_event(raw: dict[str, Any], *, actor: User) -> Event:
    if not rules.can_manage(actor):
        raise Forbidden(_l("Only board members and admins create events."))
    clean, errors = check_event_data(raw)
    if errors:
        raise ValidationFailed(errors)
    event = Event(**clean, created_by_id=actor.id)
    db.session.add(event)
    db.session.flush()
    record("event.create", ENTITY, event.id, actor, {k: getattr(event, k) for k in FIELDS})
    return event


def update_event(event: Event, raw: dict[str, Any], *, actor: User) -> Event:
    if not rules.can_manage(actor):
        raise Forbidden(_l("Only board members and admins edit events."))
    clean, errors = check_event_data(raw, event=event)
    if errors:
        raise ValidationFailed(errors)
    changes = diff({k: getattr(event, k) for k in clean}, clean)
    for key, value in clean.items():
        setattr(event, key, value)
    db.session.flush()
    if changes:
        record("event.update", ENTITY, event.id, actor, changes)
    return event
