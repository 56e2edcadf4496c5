"""GET /api/openapi.json (the document) and GET /api/docs (the vendored Swagger UI rendering it)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, render_template, url_for

from portal.openapi.document import build_document

bp = Blueprint("openapi", __name__, url_prefix="/api")

SWAGGER_UI = "vendor/swagger-ui-5.35.0"  # under static/: swagger-ui-dist 5.35.0 from npm, with its LICENSE and NOTICE


def document_of(app: Flask) -> dict[str, Any]:
    """The app's document, built on first use: its routes do not change once it serves."""
    if "portal.openapi" not in app.extensions:
        app.extensions["portal.openapi"] = build_document(app)
    return app.extensions["portal.openapi"]


@bp.get("/openapi.json")
def document():
    return jsonify(document_of(current_app))


@bp.get("/docs")
def viewer():
    return render_template("openapi/docs.html", swagger_ui=SWAGGER_UI, document_url=url_for("openapi.document"))
