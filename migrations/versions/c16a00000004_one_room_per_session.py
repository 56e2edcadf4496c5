"""one room per session, whoever asks first (issue 16)

A slot in the chain, reserved for that work; it changes nothing until that work fills it in.

Revision ID: c16a00000004
Revises: c13a00000003
Create Date: 2026-11-30 21:48:00.000000
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'c16a00000004'
down_revision = 'c13a00000003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
