"""README and code tell the same story: the two commands, every setting, every command."""

import dataclasses
import re
from pathlib import Path

from portal.cli import main
from portal.config import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_has_exactly_two_shell_commands_and_ci_runs_the_test_one():
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
    assert len(blocks) == 2
    assert all(len(block.strip().splitlines()) == 1 for block in blocks)
    run, test = (block.strip() for block in blocks)
    assert "portal demo" in run and "portal run" in run
    assert "pytest" in test
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert test in ci


def test_readme_documents_every_setting():
    missing = [f"PORTAL_{f.name}" for f in dataclasses.fields(Settings) if f"`PORTAL_{f.name}`" not in README]
    assert not missing


def test_readme_documents_every_command():
    missing = [name for name in main.commands if f"`portal {name}" not in README]
    assert not missing
