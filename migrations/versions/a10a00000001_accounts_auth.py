"""accounts: sign-in sessions, one-time links, limits (issue 10, part 1)

A slot in the chain, reserved for the sign-in work; it changes nothing until that work fills it in.

Revision ID: a10a00000001
Revises: 040c81b53981
Create Date: 2026-11-30 21:45:00.000000
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'a10a00000001'
down_revision = '040c81b53981'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
