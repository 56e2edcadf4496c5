"""The "ended" page of a session, `/sessions/<id>/ended`: where the room page takes its people when the session
ends (by its instructor, the worker or the provider), and where a session that never took place points onwards.

The same view rule as the session page (training.queries.get_visible): someone who may not see the session gets
the session page's 404, with the same words. The page depends on who asks (the next sessions they may see, the
recording note only for those who may watch it), so no shared cache keeps it."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from portal.core.clock import now_utc
from portal.core.web import no_store
from portal.training import queries
from portal.training.ended import ended_page

bp = Blueprint("ended", __name__)


@bp.get("/sessions/<int:session_id>/ended", endpoint="page")
def page(session_id: int):
    session = queries.get_visible(session_id, current_user)
    return no_store(render_template("training/ended.html", page=ended_page(session, current_user, now_utc())))
