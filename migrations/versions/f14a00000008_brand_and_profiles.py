"""the brand: instructor bios and photos, event images (issue 14)

Reserved slot: empty until its owner fills it (a no-op keeps the chain whole).

Revision ID: f14a00000008
Revises: f12a00000007
Create Date: 2026-12-01 00:45:00.000000
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "f14a00000008"
down_revision = "f12a00000007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
