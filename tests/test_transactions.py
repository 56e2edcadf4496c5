"""One place commits a request's work (portal.core.web.commit_request_work): an answer below 400 commits what the
request did, anything else rolls it back; keep_work_before_error() keeps what came before an error answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import redirect

from portal.audit.models import AuditEntry
from portal.audit.operations import record
from portal.core.errors import Conflict, ServiceUnavailable
from portal.core.web import keep_work_before_error
from portal.extensions import db
from portal.training.models import TrainingSession


def stored_actions() -> list[str]:
    """What is committed, read on a connection of its own (nothing the test's own session holds)."""
    with db.engine.connect() as connection:
        return list(connection.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))


@pytest.fixture
def work_app(make_app):
    """An app with views that write an audit entry and answer in each way a view can; none of them commits."""
    app = make_app()

    @app.post("/work/<answer>")
    def work(answer: str):
        record(f"work.{answer}", "test", 1)
        db.session.flush()
        if answer == "refused":  # a 4xx the view answers itself (a form with errors, say)
            return "refused", 422
        if answer == "raised":  # a 4xx from a DomainError
            raise Conflict("Not now.")
        if answer == "redirected":
            return redirect("/", code=303)
        if answer == "kept":  # what comes before keep_work_before_error() outlives the 503 that follows
            keep_work_before_error()
            record("work.after_keep", "test", 1)
            raise ServiceUnavailable("The provider is down.")
        return "done"

    return app


@pytest.mark.parametrize(("answer", "status"), [("refused", 422), ("raised", 409)])
def test_a_request_answered_4xx_leaves_nothing_stored(work_app, answer, status):
    assert work_app.test_client().post(f"/work/{answer}").status_code == status
    assert stored_actions() == []


@pytest.mark.parametrize(("answer", "status"), [("done", 200), ("redirected", 303)])
def test_the_work_of_a_2xx_or_3xx_request_is_stored_without_the_view_committing(work_app, answer, status):
    assert work_app.test_client().post(f"/work/{answer}").status_code == status
    assert stored_actions() == [f"work.{answer}"]


def test_keep_work_before_error_keeps_what_came_before_a_503_and_nothing_after(work_app):
    assert work_app.test_client().post("/work/kept").status_code == 503
    assert stored_actions() == ["work.kept"]


def test_a_start_with_the_provider_down_keeps_the_failed_room_attempt(
    clock, api_client, make_session, app, monkeypatch
):
    """The real case: the start API answers 503, and the instructor still sees why the room failed."""
    from tests.test_training_operations import FailingProvider

    client, instructor = api_client("instructor")
    session = make_session(instructor=instructor, start_in=timedelta(minutes=5))  # within the start period
    monkeypatch.setitem(app.extensions, "portal.video", FailingProvider())
    assert client.post(f"/api/training/sessions/{session.id}/start").status_code == 503
    with db.engine.connect() as connection:
        row = connection.execute(
            sa.select(TrainingSession.status, TrainingSession.room_status, TrainingSession.room_attempts).where(
                TrainingSession.id == session.id
            )
        ).one()
    assert (row.status, row.room_status, row.room_attempts) == ("scheduled", "failed", 1)
    assert "session.start" not in stored_actions()  # the start itself did not happen
