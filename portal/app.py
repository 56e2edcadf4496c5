"""The composition root: `create_app` assembles the settings, the ground's wiring, and each concept package's
blueprints, signal receivers and navigation. Nothing inside a package imports this module (the `portal` command,
portal.cli, and the processes of portal.ops build their apps with it)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

import portal.audit.receivers
import portal.models  # every table registered on the metadata
import portal.notifications.receivers
import portal.seats.receivers
import portal.training.receivers  # noqa: F401  (the modules above connect their receivers on import)
from portal.accounts.auth import init_auth
from portal.accounts.roles import Role, has_role
from portal.blueprints import BLUEPRINTS
from portal.config import PROJECT_ROOT, Settings, load_settings
from portal.core.errors import register_error_handlers
from portal.core.htmx import register_htmx
from portal.core.i18n import init_i18n
from portal.core.queue import init_queue
from portal.core.session_cookie import RememberingSessionInterface
from portal.core.web import register_web
from portal.extensions import csrf, db
from portal.video import init_video

# (endpoint, label, minimum role or None for everyone); links to endpoints that do not exist are left out.
NAV_LINKS = [
    ("events.index", _l("Events"), None),
    ("training.index", _l("Sessions"), None),
    ("training.week", _l("Timetable"), None),
    ("seats.my_schedule", _l("My schedule"), Role.MEMBER),
    ("training_log.mine", _l("Training log"), Role.PUBLIC),
    ("recordings.index", _l("Recordings"), Role.PUBLIC),
    ("training.my_sessions", _l("My sessions"), Role.INSTRUCTOR),
    ("accounts.users", _l("Users"), Role.ADMIN),
    ("audit.index", _l("Audit log"), Role.ADMIN),
    ("ops.health", _l("Health"), Role.ADMIN),
]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. `config` overrides settings by name (tests): {"DATABASE_URL": ..., "ENV": "test"}."""
    flask_overrides = {k: v for k, v in (config or {}).items() if k.isupper() and not hasattr(Settings, k)}
    settings = load_settings({k: v for k, v in (config or {}).items() if hasattr(Settings, k)})
    app = Flask(
        "portal",
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=settings.INSTANCE_PATH,
    )
    configure_flask(app, settings, flask_overrides)
    configure_logging(app)
    configure_extensions(app)
    register_blueprints(app)
    register_navigation(app)
    return app


def configure_flask(app: Flask, settings: Settings, overrides: Mapping[str, Any]) -> None:
    secure = settings.BASE_URL.startswith("https://")
    app.config.update(
        SECRET_KEY=settings.SECRET_KEY,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings.database_url),
        # A join page can stay open for hours while it polls; the token stays bound to the session.
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in portal.core.web so bearer-token API calls can skip it
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        MAX_CONTENT_LENGTH=settings.MAX_REQUEST_BYTES,
        JSON_SORT_KEYS=False,
        TESTING=settings.ENV == "test",
    )
    app.config.update(overrides)
    app.extensions["portal.settings"] = settings
    app.session_interface = RememberingSessionInterface()  # Flask's signed cookie, verified once per process
    if settings.TRUSTED_PROXIES:
        # The client address and scheme as the nearest trusted proxy saw them; with no proxy configured, the
        # forwarded headers anyone can send are ignored (request.remote_addr is the socket's peer)
        n = settings.TRUSTED_PROXIES
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # Several processes (web, worker) share the file: wait for a lock rather than fail at once.
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True}


def configure_logging(app: Flask) -> None:
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("alembic").setLevel(logging.WARNING)  # migrations report themselves only when they fail


def configure_extensions(app: Flask) -> None:
    db.init_app(app)
    csrf.init_app(app)
    init_i18n(app)
    init_auth(app)
    init_queue(app)
    init_video(app)
    register_web(app)
    register_htmx(app)
    register_error_handlers(app)


def register_blueprints(app: Flask) -> None:
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)


def register_navigation(app: Flask) -> None:
    @app.context_processor
    def navigation():
        def nav_links():
            return [
                (endpoint, label, minimum)
                for endpoint, label, minimum in NAV_LINKS
                if endpoint in app.view_functions and (minimum is None or has_role(current_user, minimum))
            ]

        return {"nav_links": nav_links}
