"""The audit page's list of record types reads one index entry per type, not every entry (issue 13)."""

from __future__ import annotations

from portal.audit import operations, queries
from portal.extensions import db


def test_each_record_type_is_listed_once_in_order():
    assert queries.entity_types() == []
    for n, entity_type in enumerate(["user", "training_session", "event", "training_session", "user", "user"]):
        operations.record("changed", entity_type, n + 1)
    db.session.commit()
    assert queries.entity_types() == ["event", "training_session", "user"]
    assert queries.audit_page().entity_types == ["event", "training_session", "user"]
