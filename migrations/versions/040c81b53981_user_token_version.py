"""user token version: API tokens carry it; a password change bumps it, revoking the tokens issued before

Tokens used to carry 12 characters of the password hash for this. Every existing user starts at version 1, so
tokens issued before this revision (which carry no version) are refused: their holders ask for a new one.

Revision ID: 040c81b53981
Revises: 7dfd3c21ff23
Create Date: 2026-12-01 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '040c81b53981'
down_revision = '7dfd3c21ff23'
branch_labels = None
depends_on = None


# Plain ALTER TABLE ADD/DROP COLUMN, never a batch copy of the table: on SQLite a batch drops and recreates
# `users`, which every other table references, and that fails as soon as any row refers to a user. A literal
# server default keeps SQLite's native ADD COLUMN; DROP COLUMN needs SQLite 3.35.


def upgrade() -> None:
    op.add_column('users', sa.Column('token_version', sa.Integer(), nullable=False, server_default='1'))


def downgrade() -> None:
    op.drop_column('users', 'token_version')
