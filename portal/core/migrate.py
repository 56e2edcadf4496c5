"""Alembic, driven from Python (no alembic.ini): `portal db upgrade` and app start-up call this."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from portal.config import PROJECT_ROOT


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return cfg


def upgrade(revision: str = "head") -> None:
    """Apply migrations up to `revision` (inside an app context)."""
    command.upgrade(alembic_config(), revision)


def revision(message: str) -> None:
    """Autogenerate a migration from the models (developers only)."""
    command.revision(alembic_config(), message=message, autogenerate=True)
