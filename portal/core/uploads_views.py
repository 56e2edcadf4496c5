"""The web side of image uploads (portal.core.uploads): reading the form's file, the larger body cap of the views
that take one, removing files with the request's outcome, and serving stored images."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, after_this_request, request, send_file

from portal.config import current_settings
from portal.core.uploads import (
    CACHE_SECONDS,
    FORM_OVERHEAD_BYTES,
    KINDS,
    MIME_BY_EXT,
    NAME,
    Processed,
    delete,
    folder,
    process_image,
    upload_url,
)

bp = Blueprint("uploads", __name__)


def read_upload(field: str) -> bytes | None:
    """The bytes of the form's file `field` (None when no file was chosen); at most UPLOAD_MAX_BYTES + 1 are read,
    enough to tell a file over the cap."""
    upload = request.files.get(field)
    if upload is None or not upload.filename:
        return None
    try:
        return upload.read(current_settings().UPLOAD_MAX_BYTES + 1)
    finally:
        upload.close()


def read_image(field: str, *, max_side: int) -> Processed | None:
    """The form's image `field` checked and re-encoded (portal.core.uploads.process_image), not stored yet; None
    when no file was chosen. Raises ImageRefused with the message for the form."""
    data = read_upload(field)
    if data is None:
        return None
    return process_image(data, max_side=max_side, max_bytes=current_settings().UPLOAD_MAX_BYTES)


def discard_unless_kept(kind: str, name: str) -> None:
    """Remove the just-stored file again if this request answers with an error (its database work is undone)."""

    @after_this_request
    def _discard(response):
        if response.status_code >= 400:
            delete(kind, name)
        return response


def delete_after_success(kind: str, name: str | None) -> None:
    """Delete a replaced or removed image once this request has succeeded (kept if it fails)."""
    if not name:
        return

    @after_this_request
    def _delete(response):
        if response.status_code < 400:
            delete(kind, name)
        return response


@bp.app_context_processor
def upload_helpers():
    """Templates: `upload_url("photos", user.photo)` (None when there is no image)."""
    return {"upload_url": upload_url, "upload_max_mb": f"{current_settings().UPLOAD_MAX_BYTES / (1024 * 1024):g}"}


# ------------------------------------------------------------------------------------------------ request size
def accepts_upload(view):
    """Mark a view whose form carries an image: its body may be UPLOAD_MAX_BYTES + FORM_OVERHEAD_BYTES."""
    view.accepts_upload = True
    return view


def _raise_cap_for_uploads(app: Flask) -> None:
    """Before any other before_request (the CSRF check reads the form, and with it the body), give a view marked
    `accepts_upload` its larger cap. Flask 3.1 reads `request.max_content_length` per request."""

    def cap() -> None:
        view = app.view_functions.get(request.endpoint or "")
        if getattr(view, "accepts_upload", False):
            settings = current_settings()
            request.max_content_length = max(
                settings.MAX_REQUEST_BYTES, settings.UPLOAD_MAX_BYTES + FORM_OVERHEAD_BYTES
            )

    app.before_request_funcs.setdefault(None, []).insert(0, cap)


bp.record_once(lambda state: _raise_cap_for_uploads(state.app))


@bp.get("/uploads/<kind>/<name>", endpoint="serve")
def serve(kind: str, name: str):
    if kind not in KINDS or not NAME.fullmatch(name):
        abort(404)
    path = folder(kind) / name
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=MIME_BY_EXT[name.rsplit(".", 1)[1]], max_age=CACHE_SECONDS, conditional=True)
    response.cache_control.public = True
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
