"""The release of a session's no-show seats (SPEC "After the session"): one row per session whose seats of people
who had not joined 5 minutes after it went live were given to the waitlist.

The row is the once-per-session claim: its primary key is the session, so of two workers releasing the same
session (two cron processes, a job run twice) only the one whose insert wins releases anything. `released_at` is
also the `canceled_at` of every seat it released, which is how attendance tells a released no-show (a seat still
canceled at that moment) from a person who gave up their seat themselves.

A table of the seats package rather than a column on `training_sessions`: seats own the release, and the sessions'
model stays untouched.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db


class NoShowRelease(db.Model):
    __tablename__ = "no_show_releases"

    session_id: Mapped[int] = mapped_column(
        sa.ForeignKey("training_sessions.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    released_at: Mapped[datetime]
    seats_released: Mapped[int] = mapped_column(default=0)
