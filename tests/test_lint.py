"""The test command lints too: ruff with the project's rules (naive datetimes, security, no Flask globals in domain
code), ruff's formatter, and the import contracts between the concept packages (pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert path, f"{name} is a test dependency: pip install -e '.[test]'"
    return path


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, check=False, cwd=ROOT)


def test_ruff_finds_nothing():
    result = _run(_tool("ruff"), "check", "--output-format", "concise", str(ROOT))
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_is_formatted_by_ruff():
    result = _run(_tool("ruff"), "format", "--check", str(ROOT))
    assert result.returncode == 0, "run `ruff format .`:\n" + result.stdout + result.stderr


def test_packages_depend_one_way():
    """The layers of pyproject.toml's [tool.importlinter]: every import, function-local ones included."""
    result = _run(_tool("lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
