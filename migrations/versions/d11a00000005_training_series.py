"""training series: recurring sessions and standing bookings (issue 11)

A slot in the chain, reserved for that work; it changes nothing until that work fills it in.

Revision ID: d11a00000005
Revises: c16a00000004
Create Date: 2026-11-30 22:20:00.000000
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = 'd11a00000005'
down_revision = 'c16a00000004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
