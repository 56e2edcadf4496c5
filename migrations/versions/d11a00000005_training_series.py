"""training series: recurring sessions and standing bookings (issue 11)

The series table (the rule and the occurrence bookkeeping), standing bookings, and training_sessions.series_id
(a nullable column added in place, with its index; on SQLite the foreign key is declared inline in the ADD COLUMN,
which SQLite allows for a column defaulting to NULL: no copy of the table).

Revision ID: d11a00000005
Revises: c16a00000004
Create Date: 2026-11-30 22:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

import portal.core.db

revision = "d11a00000005"
down_revision = "c16a00000004"
branch_labels = None
depends_on = None


def _utc(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, portal.core.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "training_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("instructor_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("recording_enabled", sa.Boolean(), nullable=False),
        sa.Column("chat_enabled", sa.Boolean(), nullable=False),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("members_only", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("first_start", sa.DateTime(timezone=False), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("weekdays", sa.String(length=20), nullable=False),
        sa.Column("interval_weeks", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("instances", sa.JSON(), nullable=False),
        sa.Column("canceled", sa.JSON(), nullable=False),
        sa.Column("overrides", sa.JSON(), nullable=False),
        _utc("canceled_at"),
        _utc("created_at", nullable=False),
        _utc("updated_at", nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_training_series_event_id_events")),
        sa.ForeignKeyConstraint(["instructor_id"], ["users.id"], name=op.f("fk_training_series_instructor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_series")),
    )
    op.create_index(op.f("ix_training_series_event_id"), "training_series", ["event_id"])
    op.create_index(op.f("ix_training_series_instructor_id"), "training_series", ["instructor_id"])

    op.create_table(
        "standing_bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _utc("ended_at"),
        _utc("created_at", nullable=False),
        _utc("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["series_id"], ["training_series.id"], name=op.f("fk_standing_bookings_series_id_training_series")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_standing_bookings_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_standing_bookings")),
        sa.UniqueConstraint("series_id", "user_id", name=op.f("uq_standing_bookings_series_id_user_id")),
    )
    op.create_index(op.f("ix_standing_bookings_user_id"), "standing_bookings", ["user_id"])

    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE training_sessions ADD COLUMN series_id INTEGER REFERENCES training_series (id)")
    else:
        op.add_column("training_sessions", sa.Column("series_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_training_sessions_series_id_training_series"),
            "training_sessions",
            "training_series",
            ["series_id"],
            ["id"],
        )
    op.create_index(op.f("ix_training_sessions_series_id"), "training_sessions", ["series_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_training_sessions_series_id"), table_name="training_sessions")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(
            op.f("fk_training_sessions_series_id_training_series"), "training_sessions", type_="foreignkey"
        )
    op.drop_column("training_sessions", "series_id")
    op.drop_index(op.f("ix_standing_bookings_user_id"), table_name="standing_bookings")
    op.drop_table("standing_bookings")
    op.drop_index(op.f("ix_training_series_instructor_id"), table_name="training_series")
    op.drop_index(op.f("ix_training_series_event_id"), table_name="training_series")
    op.drop_table("training_series")
