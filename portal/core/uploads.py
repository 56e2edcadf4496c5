"""Uploaded images (instructor photos, event images): checked by content, re-encoded, stored, served.

- Checked by what the bytes are, never by the file name or the browser's Content-Type: Pillow must open them as
  JPEG, PNG or WebP, `verify()` them and decode them whole (a truncated file fails here), and their pixel count
  must stay under Pillow's decompression-bomb limit (`Image.MAX_IMAGE_PIXELS`, ~89 MP; a 1 kB file may claim
  50000x50000 pixels): refused before the pixels are decoded.
- Re-encoded in the same format after applying the EXIF orientation, so nothing of the upload's metadata (EXIF,
  GPS, comments, ICC) nor anything appended to it survives; scaled down to fit `max_side` pixels.
- Stored under `<instance>/uploads/<kind>/` with a random name (128 bits) and served by `GET
  /uploads/<kind>/<name>` (portal.core.uploads_views) with its Content-Type, `X-Content-Type-Options: nosniff`
  and a year's cache (a new image gets a new name). The names are unguessable; whoever has a page showing the
  image has its address.
- Size: a file over `UPLOAD_MAX_BYTES` is refused with a form message. A view that takes an upload is marked
  `@uploads_views.accepts_upload`: its request body may be `UPLOAD_MAX_BYTES` + 256 kB (the rest of the form)
  instead of `MAX_REQUEST_BYTES`; anything larger is a 413 the view's blueprint answers with its form and
  `too_large_message()`.
- Nothing is half-stored: the file is written only after every check, and `uploads_views.discard_unless_kept`
  removes it again when the request answers with an error (the database work is rolled back then, see
  core.web); an image replaced or removed is deleted only once the request succeeds
  (`uploads_views.delete_after_success`).
"""

from __future__ import annotations

import io
import os
import re
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

from flask import url_for
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError

from portal.config import current_settings
from portal.core.i18n import fill

FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
MIME_BY_EXT = dict(FORMATS.values())
KINDS = {"photos", "events"}  # a folder each under <instance>/uploads
NAME = re.compile(r"[A-Za-z0-9_-]{22}\.(jpg|png|webp)")
FORM_OVERHEAD_BYTES = 256 * 1024  # the other fields of a form that carries an upload
CACHE_SECONDS = 365 * 24 * 3600


class ImageRefused(ValueError):
    """The upload is not an image the portal takes; the message says why, for the form."""


@dataclass(frozen=True)
class Processed:
    data: bytes
    ext: str
    width: int
    height: int


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


def too_large_message() -> str:
    return f"The image is larger than {_mb(current_settings().UPLOAD_MAX_BYTES)}, the most an upload may be."


def process_image(data: bytes, *, max_side: int, max_bytes: int) -> Processed:
    """The upload checked and re-encoded (see the module's docstring), or ImageRefused."""
    if not data:
        raise ImageRefused(_l("The file is empty; choose a JPEG, PNG or WebP image."))
    if len(data) > max_bytes:
        raise ImageRefused(
            fill(_l("The image is larger than %(size)s, the most an upload may be."), size=_mb(max_bytes))
        )
    try:
        with warnings.catch_warnings():
            # Pillow warns between MAX_IMAGE_PIXELS and twice it, and raises beyond: both are refused here
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format
                if kind not in FORMATS:
                    raise ImageRefused(_l("Only JPEG, PNG and WebP images are taken."))
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # decodes every pixel: a truncated or corrupt file fails here
                image = ImageOps.exif_transpose(image)
                image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
                return _encode(image, kind)
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRefused(_l("The image has too many pixels to be opened safely; use a smaller one.")) from exc
    except UnidentifiedImageError as exc:
        raise ImageRefused(_l("The file is not an image; choose a JPEG, PNG or WebP image.")) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # what Pillow raises for broken files
        raise ImageRefused(_l("The image is damaged or cut short; choose another file.")) from exc


def _encode(image: Image.Image, kind: str) -> Processed:
    out = io.BytesIO()
    if kind == "JPEG":
        image = image.convert("RGB")
        image.save(out, "JPEG", quality=85, optimize=True)
    elif kind == "PNG":
        if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            image = image.convert("RGBA")
        image.save(out, "PNG", optimize=True)
    else:
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA")
        image.save(out, "WEBP", quality=85)
    ext = FORMATS[kind][0]
    return Processed(out.getvalue(), ext, image.width, image.height)


def folder(kind: str) -> Path:
    if kind not in KINDS:
        raise ValueError(f"unknown upload kind {kind!r}")
    return Path(current_settings().INSTANCE_PATH) / "uploads" / kind


def store(kind: str, processed: Processed) -> str:
    """Write the image under a new random name (atomically: a reader never sees half a file); its name."""
    target_dir = folder(kind)
    target_dir.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_urlsafe(16)}.{processed.ext}"
    partial = target_dir / f".{name}.part"
    partial.write_bytes(processed.data)
    os.replace(partial, target_dir / name)
    return name


def delete(kind: str, name: str | None) -> None:
    if name and NAME.fullmatch(name):
        (folder(kind) / name).unlink(missing_ok=True)


def upload_url(kind: str, name: str | None) -> str | None:
    return url_for("uploads.serve", kind=kind, name=name) if name else None
