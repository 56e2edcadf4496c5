"""The files issue 14 vendors and adds: idiomorph (served, with the SRI base.html names), axe-core (tests only, not
served), the favicon (linked from every page, served, in SVG, PNG and ICO)."""

from __future__ import annotations

import base64
import hashlib
import re

from portal.config import PROJECT_ROOT

STATIC = PROJECT_ROOT / "static"


def _sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def test_every_script_of_the_base_page_is_vendored_and_matches_its_integrity(client):
    html = client.get("/").get_data(as_text=True)
    scripts = re.findall(r'<script src="/static/([^"]+)"(?: integrity="([^"]+)")?', html)
    vendored = {path: integrity for path, integrity in scripts if path.startswith("vendor/")}
    assert set(vendored) == {"vendor/htmx-2.0.11.min.js", "vendor/idiomorph-0.8.0/idiomorph-ext.min.js"}
    for path, integrity in vendored.items():
        with client.get(f"/static/{path}") as served:
            assert served.status_code == 200
            assert integrity == _sri(served.data) == _sri((STATIC / path).read_bytes())
    assert 'hx-ext="morph"' in html
    # idiomorph after htmx (its extension registers with htmx), both deferred so they run in that order
    assert html.index("htmx-2.0.11.min.js") < html.index("idiomorph-ext.min.js")


def test_idiomorph_is_the_published_package_with_its_licence():
    folder = STATIC / "vendor" / "idiomorph-0.8.0"
    script = (folder / "idiomorph-ext.min.js").read_text()
    assert script.startswith("var Idiomorph=") and 'htmx.defineExtension("morph"' in script
    assert "Zero-Clause BSD" in (folder / "LICENSE.txt").read_text()
    assert "0.8.0" in (folder / "README.md").read_text()


def test_axe_core_is_vendored_for_the_tests_only(client):
    folder = PROJECT_ROOT / "tests" / "assets" / "axe-core-4.14.1"
    assert (folder / "axe.min.js").read_text()[:200].find("axe v4.14.1") != -1
    assert "Mozilla Public License" in (folder / "LICENSE.txt").read_text()
    assert not list(STATIC.rglob("axe*.js"))


def test_the_favicon_is_linked_and_served_in_each_format(client):
    html = client.get("/login").get_data(as_text=True)
    links = dict(re.findall(r'<link rel="(icon|apple-touch-icon)" href="/static/([^"]+)"', html))
    assert links, "no favicon link"
    expected = {
        "favicon.svg": ("image/svg+xml", b"<svg"),
        "favicon-32.png": ("image/png", b"\x89PNG"),
        "apple-touch-icon.png": ("image/png", b"\x89PNG"),
        "favicon.ico": (None, b"\x00\x00\x01\x00"),
    }
    linked = set(re.findall(r'<link rel="(?:icon|apple-touch-icon)" href="/static/([^"]+)"', html))
    assert linked == {"favicon.svg", "favicon-32.png", "apple-touch-icon.png"}
    for name, (mimetype, magic) in expected.items():
        with client.get(f"/static/{name}") as served:
            assert served.status_code == 200 and served.data.startswith(magic), name
            assert mimetype is None or served.mimetype == mimetype
