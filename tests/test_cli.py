"""The `portal` command: its groups load on first use, and the account and database commands work through it."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner
from sqlalchemy import select

from portal.accounts.models import User
from portal.cli import main
from portal.extensions import db


def _environment(base_config, tmp_path) -> dict[str, str]:
    env = {f"PORTAL_{key}": base_config[key] for key in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")}
    return {**env, "PORTAL_ENV": "test", "PORTAL_INSTANCE_PATH": str(tmp_path)}


def test_starting_the_command_loads_no_package_until_one_is_asked_for():
    code = "import sys, portal.cli; print(sorted(m for m in sys.modules if m.startswith('portal.')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['portal.cli', 'portal.config']"


def test_users_create_makes_an_account_and_refuses_bad_fields_by_name(base_config, tmp_path):
    env = _environment(base_config, tmp_path)
    created = CliRunner().invoke(
        main,
        ["users", "create", "--email", "Cli.User@Example.org", "--password", "a long password", "--role", "instructor"],
        env=env,
    )
    assert created.exit_code == 0, created.output
    assert "created cli.user@example.org (instructor)" in created.output
    refused = CliRunner().invoke(main, ["users", "create", "--email", "nope", "--password", "short"], env=env)
    assert refused.exit_code == 2
    assert "email:" in refused.output and "password:" in refused.output
    db.session.expire_all()
    assert db.session.scalars(select(User.email)).all() == ["cli.user@example.org"]


def test_db_upgrade_says_the_database_is_up_to_date(base_config, tmp_path):
    result = CliRunner().invoke(main, ["db", "upgrade"], env=_environment(base_config, tmp_path))
    assert result.exit_code == 0, result.output
    assert "database is up to date" in result.output


def test_a_bad_setting_is_named_not_a_traceback(base_config, tmp_path):
    env = {**_environment(base_config, tmp_path), "PORTAL_JOIN_WINDOW_MINUTES": "soon"}
    result = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert result.exit_code == 1
    assert "configuration: PORTAL_JOIN_WINDOW_MINUTES" in result.output
