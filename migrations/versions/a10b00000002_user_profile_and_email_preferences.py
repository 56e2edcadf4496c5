"""users: verified address, language, clock, email preferences (issue 10)

Existing accounts count as verified (they were made by admins, the CLI or the demo, and signed in with their
address). Plain ADD COLUMN with literal server defaults: see 040c81b53981 for why never a batch copy of `users`.

Revision ID: a10b00000002
Revises: a10a00000001
Create Date: 2026-11-30 21:46:00.000000
"""
from alembic import op
import sqlalchemy as sa

import portal.core.db


revision = 'a10b00000002'
down_revision = 'a10a00000001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('users', sa.Column('email_verified_at', portal.core.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column('users', sa.Column('locale', sa.String(length=16), nullable=True))
    op.add_column('users', sa.Column('hour_cycle', sa.String(length=2), nullable=True))
    op.add_column('users', sa.Column('email_preferences', sa.JSON(), nullable=False, server_default='{}'))
    op.execute("UPDATE users SET email_verified_at = created_at")


def downgrade() -> None:
    for column in ('email_preferences', 'hour_cycle', 'locale', 'email_verified_at'):
        op.drop_column('users', column)
