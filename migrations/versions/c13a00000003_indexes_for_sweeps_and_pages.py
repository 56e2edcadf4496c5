"""indexes for every sweep's and page's filter and order (issue 13)

Lists (home, /sessions, the API, an instructor's and an event's sessions) read sessions in start order with a
LIMIT; auto-end and archiving find sessions by status and end; cleanup and Health find rooms by status; Health
counts recent emails by status. The partial indexes leave archived sessions out: history does not slow them.
Plain CREATE INDEX (no table copy).

Revision ID: c13a00000003
Revises: a10b00000002
Create Date: 2026-11-30 21:47:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = 'c13a00000003'
down_revision = 'a10b00000002'
branch_labels = None
depends_on = None

UNARCHIVED = {"sqlite_where": sa.text("archived_at IS NULL"), "postgresql_where": sa.text("archived_at IS NULL")}
SESSION_INDEXES = [
    ('ix_training_sessions_unarchived_start_time', ['start_time', 'id'], UNARCHIVED),
    ('ix_training_sessions_unarchived_created_at', ['created_at', 'id'], UNARCHIVED),
    ('ix_training_sessions_unarchived_title', ['title', 'id'], UNARCHIVED),
    ('ix_training_sessions_unarchived_status_end_time', ['status', 'end_time'], UNARCHIVED),
    ('ix_training_sessions_unarchived_instructor_id', ['instructor_id', 'start_time', 'id'], UNARCHIVED),
    ('ix_training_sessions_unarchived_event_id', ['event_id', 'start_time', 'id'], UNARCHIVED),
    ('ix_training_sessions_room_status_status', ['room_status', 'status'], {}),
]


def upgrade() -> None:
    for name, columns, where in SESSION_INDEXES:
        op.create_index(name, 'training_sessions', columns, unique=False, **where)
    op.create_index('ix_notifications_status_updated_at', 'notifications', ['status', 'updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_notifications_status_updated_at', table_name='notifications')
    for name, _, _ in reversed(SESSION_INDEXES):
        op.drop_index(name, table_name='training_sessions')
