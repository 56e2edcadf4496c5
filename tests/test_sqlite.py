"""SQLite specifics of the database layer (the embedded default): a savepoint never commits on its own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.core.clock import now_utc
from portal.events.models import Event
from portal.extensions import db


def test_a_savepoint_that_is_the_first_write_is_rolled_back_with_its_transaction(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL opens its transactions itself")
    start = now_utc() + timedelta(days=1)
    with db.session.begin_nested():
        db.session.add(Event(title="kept only if committed", start_time=start, end_time=start + timedelta(hours=1)))
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Event)) == 0
