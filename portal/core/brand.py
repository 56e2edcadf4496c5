"""The brand (issue 14): the organisation's name, logo and colours from the settings, for every page.

Templates get `brand` (name, logo_url, css_url). The colours reach the pages as CSS custom properties in a small
stylesheet, `GET /brand.css` (the portal's CSP allows no inline style), linked after portal.css by
templates/_brand.html so that its values win; its address carries a hash of the colours, so it is cached for a
year and a new colour is a new address. The logo is served from its file at `GET /brand/logo.<svg|png>`; an SVG
is sent with a CSP that runs nothing, in case someone opens it on its own.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, abort, send_file, url_for

from portal.config import LOGO_TYPES, Settings, current_settings, logo_path

CACHE_SECONDS = 365 * 24 * 3600

bp = Blueprint("brand", __name__)


def _say_darkened(app) -> None:
    settings = app.extensions["portal.settings"]
    if settings.primary_darkened:
        app.logger.warning(
            "PORTAL_BRAND_PRIMARY_COLOR %s is below 4.5:1 on white; the portal shows it as %s",
            settings.BRAND_PRIMARY_COLOR,
            settings.brand_colors["--brand"],
        )


def _on_register(app) -> None:
    _say_darkened(app)
    # A global, not only a context processor: emails are rendered outside requests (the worker) and read the name.
    app.jinja_env.globals["brand"] = Brand(app.extensions["portal.settings"])


bp.record_once(lambda state: _on_register(state.app))


@cache
def _stylesheet(colors: tuple[tuple[str, str], ...]) -> tuple[str, str]:
    body = ":root { " + " ".join(f"{name}: {value};" for name, value in colors) + " }\n"
    return body, hashlib.sha256(body.encode()).hexdigest()[:12]


def stylesheet(settings: Settings) -> tuple[str, str]:
    """(the CSS, its version hash)."""
    return _stylesheet(tuple(settings.brand_colors.items()))


def _logo_file(settings: Settings) -> Path | None:
    return logo_path(settings.BRAND_LOGO, Path(settings.INSTANCE_PATH)) if settings.BRAND_LOGO else None


def logo_url(settings: Settings) -> str | None:
    path = _logo_file(settings)
    if path is None:
        return None
    if settings.BRAND_LOGO.startswith("static/"):
        return url_for("static", filename=settings.BRAND_LOGO.removeprefix("static/"))
    return url_for("brand.logo", ext=path.suffix.lower().lstrip("."), v=int(path.stat().st_mtime))


class Brand:
    """What templates read as `brand`. The addresses are built when a template reads them (a page, in a request);
    templates rendered without a request (emails) read only the name."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.name = settings.BRAND_NAME

    @property
    def logo_url(self) -> str | None:
        return logo_url(self._settings)

    @property
    def css_url(self) -> str:
        return url_for("brand.css", v=stylesheet(self._settings)[1])

    @property
    def theme_color(self) -> str:
        return self._settings.brand_colors["--brand"]


@bp.get("/brand.css", endpoint="css")
def css():
    body, _version = stylesheet(current_settings())
    response = Response(body, mimetype="text/css")
    response.cache_control.public = True
    response.cache_control.max_age = CACHE_SECONDS
    return response


@bp.get("/brand/logo.<ext>", endpoint="logo")
def logo(ext: str):
    settings = current_settings()
    path = _logo_file(settings)
    if path is None or path.suffix.lower() != f".{ext}" or not path.is_file():
        abort(404)
    response = send_file(path, mimetype=LOGO_TYPES[path.suffix.lower()], max_age=CACHE_SECONDS, conditional=True)
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return response
