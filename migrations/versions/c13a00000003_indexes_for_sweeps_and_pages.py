"""indexes for every sweep's and page's filter and order (issue 13)

A slot in the chain, reserved for that work; it changes nothing until that work fills it in.

Revision ID: c13a00000003
Revises: a10b00000002
Create Date: 2026-11-30 21:47:00.000000
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'c13a00000003'
down_revision = 'a10b00000002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
