"""The private calendar feed: `GET /calendar/<secret>.ics` (no sign-in: the secret is the credential) and
`POST /calendar/reset` (signed in, CSRF), plus `calendar_feed_links()` for the "My schedule" partial.

The feed answers an ETag and 304 to a matching If-None-Match; `Cache-Control: private, no-cache` lets the
subscriber's own client keep a copy (and revalidate it every time) while no shared cache stores one person's
schedule. Anything wrong with the secret is the same plain 404.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.accounts.auth import require_login
from portal.config import current_settings
from portal.core.errors import NotFound
from portal.core.htmx import is_htmx
from portal.core.web import no_store
from portal.seats import feed

bp = Blueprint("calendar_feed", __name__)

FEED_CACHE_CONTROL = "private, no-cache"


@dataclass(frozen=True)
class FeedLinks:
    https_url: str  # to paste into a calendar program that asks for an address
    webcal_url: str  # opens the subscription dialog of the system's calendar


def feed_links(secret: str) -> FeedLinks:
    base = current_settings().BASE_URL.rstrip("/")
    path = url_for("calendar_feed.ics", secret=secret)
    _, _, rest = base.partition("://")
    return FeedLinks(https_url=base + path, webcal_url=f"webcal://{rest}{path}")


@bp.app_template_global()
def calendar_feed_links() -> FeedLinks | None:
    """The signed-in viewer's feed addresses (the feed is made on first call), None for an anonymous viewer."""
    if not current_user.is_authenticated:
        return None
    return feed_links(feed.feed_secret(current_user))


@bp.get("/calendar/<secret>.ics")
def ics(secret: str):
    owner = feed.feed_owner(secret)
    if owner is None:
        raise NotFound(_l("No such calendar."))
    items = feed.feed_items(owner)
    etag = feed.feed_etag(owner, secret, items)
    if etag in request.if_none_match:
        response = Response(status=304)
    else:
        response = Response(feed.feed_ics(owner, items), mimetype="text/calendar")
        response.headers["Content-Disposition"] = 'inline; filename="training-portal.ics"'
    response.set_etag(etag)
    response.headers["Cache-Control"] = FEED_CACHE_CONTROL
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.post("/calendar/reset")
@require_login
def reset():
    """A new feed address; the old one answers 404 from now on (calendars subscribed to it stop updating)."""
    feed.reset_feed(current_user)
    if is_htmx():
        return no_store(render_template("seats/_calendar_feed.html", feed_reset=True), private=True)
    flash(
        gettext("Your calendar feed has a new address. Subscribe to it again; the old one no longer works."), "success"
    )
    return redirect(url_for("seats.my_schedule"))
