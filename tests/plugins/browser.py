"""Fixtures for end-to-end tests: the real portal (web server, worker, cron) in subprocesses, driven by Debian's
Chromium through Playwright.

- `live_portal`: `portal run` on a free port against the test database, with its own embedded Redis; its URL.
- `browser`: headless Chromium (installed with apt-get on a fresh Debian machine when missing and we are root).
- `page_as(user)`: a new browser page signed in as `user` (through the real sign-in form), in the user's zone.
- `shot(page, name)`: a screenshot under test-artifacts/e2e/.
- `assert_accessible(page, name)`: axe-core (vendored in tests/assets/) on the page as it is; fails on any violation,
  listing each rule, its impact and the elements.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

AXE_SCRIPT = Path(__file__).resolve().parent.parent / "assets" / "axe-core-4.14.1" / "axe.min.js"
PHONE_WIDTH = 375  # the narrowest common phone (iPhone SE/mini): what must fit without sideways scrolling

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def find_chromium() -> str | None:
    override = os.environ.get("PORTAL_E2E_CHROMIUM")
    if override:
        return override
    return next((path for path in CHROMIUM_CANDIDATES if Path(path).exists()), None)


def ensure_chromium() -> str:
    """Debian's chromium, installed on first use when we may (root with apt-get): nothing else to set up."""
    path = find_chromium()
    if path:
        return path
    if shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium", "fonts-dejavu-core"],
            check=True,
            env=env,
            capture_output=True,
        )
        path = find_chromium()
    if not path:
        pytest.fail("Chromium is needed for the browser tests: apt-get install chromium (or set PORTAL_E2E_CHROMIUM)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_portal(base_config: dict[str, Any], instance: Path, **settings: Any) -> Iterator[str]:
    """`portal run` (web, worker, cron) in a subprocess on a free port, on the test database with its own
    embedded Redis in `instance`; `settings` are extra PORTAL_ settings (an SMTP sink, say). Yields its URL and
    stops it (its whole process group if it lingers) afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if k != "PORTAL_REDIS_URL"},
        "PORTAL_ENV": "development",
        "PORTAL_SECRET_KEY": base_config["SECRET_KEY"],
        "PORTAL_DATABASE_URL": base_config["DATABASE_URL"],
        "PORTAL_INSTANCE_PATH": str(instance),
        "PORTAL_BASE_URL": url,
        "PYTHONUNBUFFERED": "1",
        **{f"PORTAL_{name}": str(value) for name, value in settings.items()},
    }
    log_path = instance / "portal.log"
    portal_cmd = [str(Path(sys.executable).parent / "portal"), "run", "--host", "127.0.0.1", "--port", str(port)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(portal_cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_up(url, process, log_path)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def live_portal(base_config, app, tmp_path_factory) -> Iterator[str]:
    """The whole portal as people and operators run it: `portal run` (web, worker, cron) in a subprocess.

    It shares the test database (tests arrange data with the factories) but runs its own embedded Redis, and it
    stops after its module: its worker must never take the jobs of the other tests on the test Redis."""
    with serve_portal(base_config, tmp_path_factory.mktemp("live-instance")) as url:
        yield url


def _wait_until_up(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"portal run exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if requests.get(url + "/", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"portal run did not answer within {timeout} s:\n{log_path.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    """The one Playwright of the test process: its sync API runs an event loop, so a second sync_playwright()
    while this one lives fails ("Sync API inside the asyncio loop"). Every browser is launched from it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_driver) -> Iterator[object]:
    browser = playwright_driver.chromium.launch(executable_path=ensure_chromium(), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page_as(browser, live_portal):
    """page_as(user, password=..., mobile=False) -> a page signed in through the real form; page_as(None) anonymous."""
    from tests.conftest import PASSWORD

    contexts = []

    def open_page(
        user=None, *, password: str = PASSWORD, mobile: bool = False, timezone: str | None = None, width: int = 390
    ):
        zone = timezone or (user.timezone if user is not None else "UTC")
        viewport = {"width": width, "height": 844} if mobile else {"width": 1280, "height": 900}
        context = browser.new_context(
            base_url=live_portal,
            timezone_id=zone,
            viewport=viewport,
            locale="en-GB",
            is_mobile=mobile,
            has_touch=mobile,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        if user is not None:
            page.goto("/login")
            page.get_by_label("Email").fill(user.email)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
            assert "/login" not in page.url, f"sign-in failed for {user.email}"
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def shot(artifacts_dir):
    folder = artifacts_dir / "e2e"
    folder.mkdir(exist_ok=True)

    def take(page, name: str, *, full_page: bool = True) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


def axe_violations(page) -> list[dict]:
    """axe-core's violations on the page as it is now (all its default rules: WCAG 2 A/AA and best practices)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # evaluated over the DevTools protocol: the portal's CSP (script-src 'self') rightly refuses a script tag
        page.evaluate(f"() => {{ {_axe_source()}\n; return typeof window.axe; }}")
    result = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    return result["violations"]


_AXE_SOURCE: list[str] = []


def _axe_source() -> str:
    if not _AXE_SOURCE:
        _AXE_SOURCE.append(AXE_SCRIPT.read_text())
    return _AXE_SOURCE[0]


def format_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}  [{violation['helpUrl']}]")
        for node in violation["nodes"][:8]:
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    {' '.join(map(str, node['target']))}: {summary[:300]}")
        if len(violation["nodes"]) > 8:
            lines.append(f"    ... and {len(violation['nodes']) - 8} more")
    return "\n".join(lines)


def assert_accessible(page, name: str = "") -> None:
    """Fails on ANY axe-core violation of the page as it is, with a readable list (rule, impact, elements)."""
    violations = axe_violations(page)
    if violations:
        where = f"{name} ({page.url})" if name else page.url
        pytest.fail(f"axe-core found {len(violations)} violation(s) on {where}:\n{format_violations(violations)}")


def assert_fits_width(page, name: str = "") -> None:
    """The page does not scroll sideways (a phone): nothing is wider than the viewport."""
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name or page.url} scrolls sideways by {overflow} px"
