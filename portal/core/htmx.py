"""The one place that reads HX-* request headers and writes HX-* response headers."""

from __future__ import annotations

from flask import Flask, Response, request


def is_htmx() -> bool:
    """A partial is wanted: an htmx request that is not a history restore (which needs the full page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def is_htmx_request() -> bool:
    """Any htmx request, history restores included (the error handler answers those with a fragment too)."""
    return bool(request.headers.get("HX-Request"))


def hx_redirect(response: Response, url: str) -> Response:
    response.headers["HX-Redirect"] = url
    return response


def register_htmx(app: Flask) -> None:
    @app.after_request
    def vary_on_hx_request(response: Response) -> Response:
        response.vary.add("HX-Request")
        return response
