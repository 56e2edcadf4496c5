"""one room per session, whoever asks first (issue 16)

The room claim: who is creating a session's room right now, and since when (a claim older than the lease is a
crashed creator's). Two nullable columns, added in place.

Revision ID: c16a00000004
Revises: c13a00000003
Create Date: 2026-11-30 21:48:00.000000
"""

from alembic import op
import sqlalchemy as sa

import portal.core.db


revision = 'c16a00000004'
down_revision = 'c13a00000003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("training_sessions", sa.Column("room_claim", sa.String(length=32), nullable=True))
    op.add_column(
        "training_sessions", sa.Column("room_claimed_at", portal.core.db.UTCDateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("training_sessions", "room_claimed_at")
    op.drop_column("training_sessions", "room_claim")
