"""attendance and recordings (issue 12): the once-per-session release of no-shows' seats; no stored provider links

`no_show_releases` (session_id primary key, released_at, seats_released): a plain CREATE TABLE; its row is the claim
that releases a session's no-show seats once. `training_sessions.recording_url` is emptied: the provider's link is
fetched when someone clicks "Watch" and is no longer stored (the column stays, unused, so nothing is copied).

Revision ID: f12b00000009
Revises: f14a00000008
Create Date: 2026-12-01 00:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

import portal.core.db

revision = "f12b00000009"
down_revision = "f14a00000008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "no_show_releases",
        sa.Column("session_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("released_at", portal.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seats_released", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["training_sessions.id"],
            name=op.f("fk_no_show_releases_session_id_training_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_no_show_releases")),
    )
    op.execute(sa.text("UPDATE training_sessions SET recording_url = NULL WHERE recording_url IS NOT NULL"))


def downgrade() -> None:
    op.drop_table("no_show_releases")
