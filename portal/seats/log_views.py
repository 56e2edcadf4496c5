"""The training log pages: one's own (/my/training-log) and anyone's for instructors, board members and admins
(/people/<user_id>/training-log; anyone else gets 404, the same answer as for a person who does not exist), each
as a printable page and as CSV. Times are in the viewer's zone; every response is no-store (one person's data)."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.accounts.auth import require_login
from portal.accounts.models import User
from portal.accounts.roles import Role, has_role
from portal.core.clock import now_utc
from portal.core.errors import NotFound
from portal.core.text import spreadsheet_safe
from portal.core.timezones import viewer_timezone
from portal.core.validation import is_id
from portal.extensions import db
from portal.seats import training_log

bp = Blueprint("training_log", __name__)
NOT_FOUND_MESSAGE = _l("Person not found.")


def may_see_log_of(viewer, person_id: int) -> bool:
    """One's own log, or anyone's for instructors and above (gradings)."""
    if not viewer.is_authenticated:
        return False
    return viewer.id == person_id or has_role(viewer, Role.INSTRUCTOR)


def _person(user_id: int) -> User:
    person = db.session.get(User, user_id) if is_id(user_id) else None
    if person is None or not may_see_log_of(current_user, person.id):
        raise NotFound(NOT_FOUND_MESSAGE)
    return person


def _page(person: User):
    zone = viewer_timezone()
    entries = training_log.log_for(person.id, now_utc())
    own = person.id == current_user.id
    csv_url = url_for("training_log.mine_csv") if own else url_for("training_log.person_csv", user_id=person.id)
    html = render_template(
        "seats/training_log.html",
        person=person,
        own=own,
        entries=entries,
        totals=training_log.totals(entries, zone),
        zone=zone,
        csv_url=csv_url,
        printed_at=now_utc(),
    )
    response = Response(html)
    response.headers["Cache-Control"] = "no-store, private"
    return response


def _csv(person: User) -> Response:
    zone = viewer_timezone()
    entries = training_log.log_for(person.id, now_utc())
    summary = training_log.totals(entries, zone)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["date", "time", "time_zone", "session", "tags", "instructor", "minutes", "joins"])
    for entry in entries:
        local = entry.started_at.astimezone(zone)
        writer.writerow(
            [
                local.strftime("%Y-%m-%d"),
                local.strftime("%H:%M"),
                zone.key,
                spreadsheet_safe(entry.title),
                spreadsheet_safe(", ".join(entry.tags)),
                spreadsheet_safe(entry.instructor_name),
                entry.minutes,
                entry.join_count,
            ]
        )
    writer.writerow([])
    writer.writerow(["tag", "sessions", "minutes"])
    for total in summary.by_tag:
        writer.writerow([spreadsheet_safe(total.label), total.sessions, total.minutes])
    writer.writerow([])
    writer.writerow(["month", "sessions", "minutes"])
    for total in summary.by_month:
        writer.writerow([total.key, total.sessions, total.minutes])
    writer.writerow([])
    writer.writerow(["total", summary.sessions, summary.minutes])
    slug = training_log.name_slug(person.name, f"person-{person.id}")
    # A byte order mark, so that spreadsheets read the UTF-8 names right.
    response = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="training-log-{slug}.csv"'
    response.headers["Cache-Control"] = "no-store, private"
    return response


@bp.get("/my/training-log")
@require_login
def mine():
    return _page(current_user)


@bp.get("/my/training-log.csv")
@require_login
def mine_csv():
    return _csv(current_user)


@bp.get("/people/<int:user_id>/training-log")
def person(user_id: int):
    return _page(_person(user_id))


@bp.get("/people/<int:user_id>/training-log.csv")
def person_csv(user_id: int):
    return _csv(_person(user_id))
