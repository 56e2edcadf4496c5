"""notification channel: each row names its channel; (channel, key) is unique instead of key

Every row written before channels existed was an email, so existing rows get "email". The server default only
fills them in: afterwards each insert names its channel.

Revision ID: 7dfd3c21ff23
Revises: 34eb5b54883d
Create Date: 2026-11-30 18:50:30.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '7dfd3c21ff23'
down_revision = '34eb5b54883d'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Two batches: the first fills the old rows from the server default, the second drops it (in one batch,
    # SQLite's copy of the table would meet a NOT NULL column without a default).
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=20), nullable=False, server_default='email'))

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.alter_column('channel', existing_type=sa.String(length=20), existing_nullable=False, server_default=None)
        batch_op.drop_constraint('uq_notifications_key', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_notifications_channel_key'), ['channel', 'key'])


def downgrade() -> None:
    # Only one channel fits the old identity: rows of any other channel are dropped.
    op.execute(sa.text("DELETE FROM notifications WHERE channel <> 'email'"))
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_notifications_channel_key'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_notifications_key'), ['key'])
        batch_op.drop_column('channel')
