"""series edits and performance (issues 11, 13)

Reserved slot: empty until its owner fills it (a no-op keeps the chain whole).

Revision ID: f11a00000010
Revises: f12b00000009
Create Date: 2026-12-01 00:45:00.000000
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "f11a00000010"
down_revision = "f12b00000009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
