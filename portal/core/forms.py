"""Small helpers for HTML forms: the values a user typed come back with the errors, nothing is lost."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import render_template, request


def form_values() -> dict[str, Any]:
    """The submitted form as a dict (lists for repeated keys), to re-render it unchanged next to its errors."""
    values: dict[str, Any] = {}
    for key in request.form:
        items = request.form.getlist(key)
        values[key] = items if len(items) > 1 else items[0]
    return values


def render_invalid(template: str, errors: dict[str, str], status: int = 422, **context: Any):
    return render_template(template, errors=errors, values=form_values(), **context), status


def safe_next(target: str | None, default: str) -> str:
    """Only same-site relative paths: never an open redirect."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
