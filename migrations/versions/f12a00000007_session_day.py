"""the session day (issue 12): assistants, release of no-shows' seats, the late-instructor notice

`session_assistants` (session_id, user_id): up to 3 assistant instructors per session. Two plain ADD COLUMNs on
`training_sessions` with literal server defaults (never a batch copy of a big table).

Revision ID: f12a00000007
Revises: e11b00000006
Create Date: 2026-12-01 00:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

import portal.core.db

revision = "f12a00000007"
down_revision = "e11b00000006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_assistants",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["training_sessions.id"],
            name=op.f("fk_session_assistants_session_id_training_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_session_assistants_user_id_users")),
        sa.PrimaryKeyConstraint("session_id", "user_id", name=op.f("pk_session_assistants")),
    )
    op.create_index(op.f("ix_session_assistants_user_id"), "session_assistants", ["user_id"], unique=False)
    op.add_column(
        "training_sessions",
        sa.Column("release_no_shows", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "training_sessions", sa.Column("late_notice_at", portal.core.db.UTCDateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("training_sessions", "late_notice_at")
    op.drop_column("training_sessions", "release_no_shows")
    op.drop_index(op.f("ix_session_assistants_user_id"), table_name="session_assistants")
    op.drop_table("session_assistants")
