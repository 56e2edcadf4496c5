"""A training series: a weekly rule whose occurrences are ordinary training sessions (`series_id` set)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import TimestampMixin
from portal.extensions import db
from portal.training.recurrence import Rule, parse_weekdays

# The session fields a series carries for its occurrences (every writable session field but start_time).
TEMPLATE_FIELDS = (
    "title",
    "description",
    "duration_minutes",
    "capacity",
    "event_id",
    "instructor_id",
    "tags",
    "recording_enabled",
    "chat_enabled",
    "is_public",
    "members_only",
)


class TrainingSeries(TimestampMixin, db.Model):
    __tablename__ = "training_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("events.id"), index=True)
    instructor_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    duration_minutes: Mapped[int]
    capacity: Mapped[int | None]
    recording_enabled: Mapped[bool] = mapped_column(default=False)
    chat_enabled: Mapped[bool] = mapped_column(default=True)
    is_public: Mapped[bool] = mapped_column(default=False)
    members_only: Mapped[bool] = mapped_column(default=True)
    tags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # The rule: a local wall-clock first start (naive, in time_zone), weekdays 'MO,WE', every n weeks, count or until.
    first_start: Mapped[datetime] = mapped_column(sa.DateTime(timezone=False))
    time_zone: Mapped[str] = mapped_column(sa.String(64))
    weekdays: Mapped[str] = mapped_column(sa.String(20))
    interval_weeks: Mapped[int] = mapped_column(default=1)
    count: Mapped[int | None]
    until: Mapped[date | None] = mapped_column(sa.Date)
    # Occurrence bookkeeping (JSON, small: at most 104 occurrences):
    # instances: session id -> the rule's local date-time it was made for ("2027-03-29T18:00");
    # canceled: the local date-times of canceled occurrences (the .ics EXDATEs);
    # overrides: session id -> fields edited on that occurrence alone (kept by later following/all edits).
    instances: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict)
    canceled: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    overrides: Mapped[dict[str, list[str]]] = mapped_column(sa.JSON, default=dict)
    canceled_at: Mapped[datetime | None]  # every occurrence canceled (scope all): no new ones are made

    @property
    def rule(self) -> Rule:
        return Rule(
            self.first_start,
            self.time_zone,
            parse_weekdays(self.weekdays),
            self.interval_weeks,
            self.count,
            self.until,
        )

    def template(self) -> dict[str, Any]:
        return {field: getattr(self, field) for field in TEMPLATE_FIELDS}

    def __repr__(self) -> str:
        return f"<TrainingSeries {self.id} {self.title!r}>"
