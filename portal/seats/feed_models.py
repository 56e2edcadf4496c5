"""A person's private calendar feed (issue 11): one row per person who has one, holding the feed's selector.

The feed's address is `<selector><check>`: `selector` is random (128 bits, unique, indexed: the lookup), `check` is
an HMAC of it under the app's SECRET_KEY (256 bits, compared in constant time). The row alone does not give the
address away (a copy of the database is not a copy of everyone's schedule), yet the owner's page can show the
address again at any time. Resetting draws a new selector: the old address stops working.

A table of its own rather than a column on `users`: the seats package owns it (the feed is seats and taught
sessions), the users table and model stay untouched, and only people who have looked at their schedule get a row.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import TimestampMixin
from portal.extensions import db


class CalendarFeed(TimestampMixin, db.Model):
    __tablename__ = "calendar_feeds"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True, autoincrement=False)
    selector: Mapped[str] = mapped_column(sa.String(32), unique=True, index=True)
