"""calendar feed: a private secret per user (issue 11)

A table of its own, `calendar_feeds` (user_id primary key, the feed's random selector with a unique index): a
plain CREATE TABLE, nothing of `users` is touched.

Revision ID: e11b00000006
Revises: d11a00000005
Create Date: 2026-11-30 22:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

import portal.core.db

revision = "e11b00000006"
down_revision = "d11a00000005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_feeds",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("selector", sa.String(length=32), nullable=False),
        sa.Column("created_at", portal.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", portal.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_calendar_feeds_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_calendar_feeds")),
    )
    op.create_index(op.f("ix_calendar_feeds_selector"), "calendar_feeds", ["selector"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_calendar_feeds_selector"), table_name="calendar_feeds")
    op.drop_table("calendar_feeds")
