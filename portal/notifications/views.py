"""The one-click unsubscribe link of every email (RFC 8058), which works without signing in.

`GET /unsubscribe/<token>` shows what the link turns off and a button; `POST /unsubscribe/<token>` turns it off.
The POST is what mail clients send on their own ("List-Unsubscribe=One-Click" in the body, no cookie): it carries
no CSRF token and needs none, since the signed token in the URL is the proof (consent.read_unsubscribe_token), and
all it can do is stop one kind of email to the person it names. A forged, truncated or foreign token is a 404.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l

from portal.accounts.models import User
from portal.accounts.profile import preference_keys, set_email_preference, wants
from portal.config import current_settings
from portal.core.errors import NotFound
from portal.core.web import csrf_exempt, no_store
from portal.extensions import db
from portal.notifications import consent

bp = Blueprint("notifications", __name__)


def _person_and_kind(token: str) -> tuple[User, str, str]:
    settings = current_settings()
    read = consent.read_unsubscribe_token(token, settings)
    user = db.session.get(User, read[0]) if read else None
    if read is None or user is None:
        raise NotFound(
            _l(
                "This unsubscribe link is not valid. Use the link of a recent email, or sign in and change "
                "your email preferences on your profile."
            ),
            code="bad_link",
        )
    return user, read[1], dict(preference_keys(settings))[read[1]]


@bp.get("/unsubscribe/<token>")
def unsubscribe(token: str):
    user, key, label = _person_and_kind(token)
    page = render_template(
        "notifications/unsubscribe.html", token=token, label=label, email=user.email, done=not wants(user, key)
    )
    return no_store(page)


@bp.post("/unsubscribe/<token>")
@csrf_exempt
def unsubscribe_post(token: str):
    user, key, label = _person_and_kind(token)
    set_email_preference(user, key, False)
    page = render_template("notifications/unsubscribe.html", token=token, label=label, email=user.email, done=True)
    return no_store(page)
