"""Image uploads (portal.core.uploads): checked by content, re-encoded without metadata, resized, served safely."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from portal.core import uploads


def image_bytes(fmt: str, size=(800, 600), *, mode="RGB", exif_gps: bool = False) -> bytes:
    image = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else None)
    out = io.BytesIO()
    kwargs = {}
    if exif_gps:
        exif = Image.Exif()
        exif[0x010F] = "SecretCam"  # Make
        exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0)}  # GPSInfo
        kwargs["exif"] = exif.tobytes()
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb's first bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


MAX = 2 * 1024 * 1024


@pytest.mark.parametrize(("fmt", "ext"), [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp")])
def test_jpeg_png_and_webp_are_taken_resized_and_re_encoded(fmt, ext):
    processed = uploads.process_image(image_bytes(fmt, (2000, 1000)), max_side=512, max_bytes=MAX)
    assert processed.ext == ext and (processed.width, processed.height) == (512, 256)
    with Image.open(io.BytesIO(processed.data)) as again:
        assert again.format == fmt and again.size == (512, 256)


def test_metadata_such_as_gps_is_stripped():
    original = image_bytes("JPEG", (300, 200), exif_gps=True)
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif().get(0x010F) == "SecretCam"
    processed = uploads.process_image(original, max_side=512, max_bytes=MAX)
    with Image.open(io.BytesIO(processed.data)) as after:
        assert not after.getexif() and "exif" not in after.info
    assert b"SecretCam" not in processed.data


def test_anything_appended_to_an_image_does_not_survive():
    payload = b"<script>alert(1)</script>"
    processed = uploads.process_image(image_bytes("PNG", (50, 50)) + payload, max_side=512, max_bytes=MAX)
    assert payload not in processed.data


def test_a_small_image_is_not_enlarged():
    processed = uploads.process_image(image_bytes("PNG", (40, 30)), max_side=512, max_bytes=MAX)
    assert (processed.width, processed.height) == (40, 30)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty"),
        (b"%PDF-1.4 this is not an image at all", "The file is not an image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "The file is not an image"),
        (image_bytes("GIF", (20, 20), mode="P"), "Only JPEG, PNG and WebP images are taken."),
        (image_bytes("BMP", (20, 20)), "Only JPEG, PNG and WebP images are taken."),
        (image_bytes("JPEG", (400, 400))[:600], "The image is damaged or cut short"),
        (image_bytes("PNG", (400, 400))[:200], "The image is damaged or cut short"),
        (png_claiming(60000, 60000), "too many pixels"),  # beyond twice Pillow's limit: an error
        (png_claiming(10000, 10000), "too many pixels"),  # beyond its limit: a warning, refused too
    ],
)
def test_what_is_not_a_whole_image_of_an_allowed_kind_is_refused_with_a_reason(data, message):
    with pytest.raises(uploads.ImageRefused, match=message):
        uploads.process_image(data, max_side=512, max_bytes=MAX)


def test_an_image_over_the_size_cap_is_refused():
    with pytest.raises(uploads.ImageRefused, match=r"larger than 0\.5 MB"):
        uploads.process_image(b"\xff\xd8" + b"\0" * (512 * 1024), max_side=512, max_bytes=512 * 1024)


def test_a_stored_image_is_served_with_its_type_nosniff_and_a_long_cache(client):
    processed = uploads.process_image(image_bytes("WEBP", (64, 64)), max_side=512, max_bytes=MAX)
    name = uploads.store("photos", processed)
    assert uploads.NAME.fullmatch(name) and len(name.split(".")[0]) == 22  # 128 random bits
    assert not list(uploads.folder("photos").glob(".*.part"))
    with client.get(f"/uploads/photos/{name}") as response:
        assert response.status_code == 200 and response.mimetype == "image/webp"
        assert response.data == processed.data
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "max-age=31536000" in response.headers["Cache-Control"]
        assert "immutable" in response.headers["Cache-Control"]
    uploads.delete("photos", name)
    assert client.get(f"/uploads/photos/{name}").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/uploads/photos/AAAAAAAAAAAAAAAAAAAAAA.jpg",  # well-formed, not there
        "/uploads/secrets/AAAAAAAAAAAAAAAAAAAAAA.jpg",  # not a kind
        "/uploads/photos/..%2F..%2Fsecret_key",
        "/uploads/photos/AAAAAAAAAAAAAAAAAAAAAA.svg",
        "/uploads/photos/.AAAAAAAAAAAAAAAAAAAAAA.jpg.part",
    ],
)
def test_nothing_but_a_stored_image_is_served(client, path):
    assert client.get(path).status_code == 404
