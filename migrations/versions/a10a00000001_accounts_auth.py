"""accounts: sign-in sessions, one-time links, limits (issue 10, part 1)

login_sessions: one row per browser sign-in (Flask-Login's alternative id), so signing out, a password change
or a reset can end sign-ins on the server. One-time links and limits need no table (signed tokens; Redis).

Revision ID: a10a00000001
Revises: 040c81b53981
Create Date: 2026-11-30 21:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

import portal.core.db

revision = "a10a00000001"
down_revision = "040c81b53981"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", portal.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", portal.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_login_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_login_sessions")),
    )
    op.create_index(op.f("ix_login_sessions_user_id"), "login_sessions", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_login_sessions_user_id"), table_name="login_sessions")
    op.drop_table("login_sessions")
