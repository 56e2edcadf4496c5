"""the brand: instructor bios and photos, event images (issue 14)

Plain ADD COLUMNs with literal server defaults (no batch copy): `users.bio` (plain text, "" for everyone so
far), `users.photo` and `events.image` (file names under <instance>/uploads, NULL: none), `events.image_alt`.

Revision ID: f14a00000008
Revises: f12a00000007
Create Date: 2026-12-01 00:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "f14a00000008"
down_revision = "f12a00000007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("bio", sa.Text(), nullable=False, server_default=""))
    op.add_column("users", sa.Column("photo", sa.String(length=64), nullable=True))
    op.add_column("events", sa.Column("image", sa.String(length=64), nullable=True))
    op.add_column("events", sa.Column("image_alt", sa.String(length=300), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("events", "image_alt")
    op.drop_column("events", "image")
    op.drop_column("users", "photo")
    op.drop_column("users", "bio")
