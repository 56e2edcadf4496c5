"""The brand settings (issue 14): name, logo and colours, checked at start; /brand.css and the logo route; the
partials base.html includes."""

from __future__ import annotations

import struct
import zlib

import pytest
from flask import render_template_string

from portal.config import (
    WHITE,
    ConfigError,
    contrast_ratio,
    load_settings,
    parse_color,
    readable_on_white,
)

BASE = {"PORTAL_ENV": "test", "PORTAL_SECRET_KEY": "brand-test-secret-key-0123456789abcdef"}


def settings(environ: dict[str, str]):
    return load_settings({}, environ={**BASE, **environ})


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0\0\0\0")) + chunk(b"IEND", b"")
    )


def test_the_brand_has_defaults_that_read_well():
    s = settings({})
    assert s.BRAND_NAME == "Training Portal" and s.BRAND_LOGO is None
    assert s.brand_colors["--brand"] == s.BRAND_PRIMARY_COLOR and not s.primary_darkened
    assert contrast_ratio(parse_color(s.brand_colors["--brand"]), WHITE) >= 4.5


@pytest.mark.parametrize("bad", ["red", "#12", "#1234567", "1f4fbf", "#ggg000", "#1f4fbf;}", ""])
def test_a_colour_that_is_not_hex_stops_the_start_naming_the_variable(bad):
    with pytest.raises(ConfigError) as exc:
        settings({"PORTAL_BRAND_PRIMARY_COLOR": bad, "PORTAL_BRAND_ACCENT_COLOR": "blue"})
    message = str(exc.value)
    assert "PORTAL_BRAND_PRIMARY_COLOR" in message and "PORTAL_BRAND_ACCENT_COLOR" in message
    assert "is not a colour like #1f4fbf" in message


def test_short_hex_is_read_and_written_out_in_full():
    s = settings({"PORTAL_BRAND_PRIMARY_COLOR": "#14B", "PORTAL_BRAND_ACCENT_COLOR": "#FC0"})
    assert (s.BRAND_PRIMARY_COLOR, s.BRAND_ACCENT_COLOR) == ("#1144bb", "#ffcc00")


@pytest.mark.parametrize("light", ["#ffd700", "#7fbfff", "#ffffff", "#1b7f3b"])
def test_a_primary_too_light_for_text_on_white_is_darkened_to_4_5_to_1_keeping_its_hue(light):
    s = settings({"PORTAL_BRAND_PRIMARY_COLOR": light})
    shown = parse_color(s.brand_colors["--brand"])
    assert contrast_ratio(shown, WHITE) >= 4.5
    assert s.primary_darkened == (contrast_ratio(parse_color(light), WHITE) < 4.5)
    original = parse_color(light)
    # one factor for all channels: the same hue, darker; and the lightest such shade (one step lighter fails)
    if s.primary_darkened and max(original) and original != (255, 255, 255):
        ratios = {round(c / o, 1) for c, o in zip(shown, original, strict=True) if o >= 40}
        assert len(ratios) == 1
        lighter = tuple(min(255, int(c / 0.99) + 1) for c in shown)
        assert contrast_ratio(lighter, WHITE) < 4.5 or lighter == shown
    assert s.brand_colors["--brand-on"] == "#ffffff"  # white text on the darkened primary (buttons)


def test_readable_on_white_keeps_a_dark_colour_and_text_on_accent_is_black_or_white():
    assert readable_on_white((31, 79, 191)) == (31, 79, 191)
    s = settings({"PORTAL_BRAND_ACCENT_COLOR": "#ffcc00"})
    assert s.brand_colors["--brand-on-accent"] == "#000000"
    s = settings({"PORTAL_BRAND_ACCENT_COLOR": "#202020"})
    assert s.brand_colors["--brand-on-accent"] == "#ffffff"


def test_a_bad_name_or_logo_stops_the_start(tmp_path):
    (tmp_path / "logo.png").write_bytes(b"GIF89a not a png")
    (tmp_path / "logo.svg").write_text("<html><script>alert(1)</script></html>")
    (tmp_path / "logo.gif").write_bytes(b"GIF89a")
    cases = {
        "logo.png": "is not a PNG image",
        "logo.svg": "is not an SVG image",
        "logo.gif": "must be an .svg or .png file",
        "missing.svg": "no such file",
    }
    for value, message in cases.items():
        with pytest.raises(ConfigError, match="PORTAL_BRAND_LOGO") as exc:
            settings({"PORTAL_INSTANCE_PATH": str(tmp_path), "PORTAL_BRAND_LOGO": value})
        assert message in str(exc.value)
    with pytest.raises(ConfigError, match="PORTAL_BRAND_NAME"):
        settings({"PORTAL_BRAND_NAME": "   "})
    with pytest.raises(ConfigError, match="PORTAL_BRAND_NAME"):
        settings({"PORTAL_BRAND_NAME": "Dojo\nBcc: x@example.org"})


def test_brand_css_carries_the_colours_and_a_versioned_address(make_app):
    app = make_app(BRAND_PRIMARY_COLOR="#ffd700", BRAND_ACCENT_COLOR="#00aa88", BRAND_NAME="Kaizen Dojo")
    client = app.test_client()
    with app.test_request_context("/"):
        html = render_template_string('{% include "_brand.html" %}')
        logo = render_template_string('{% include "_brand_logo.html" %}')
    assert '<link rel="stylesheet" href="/brand.css?v=' in html and '<meta name="theme-color"' in html
    assert logo.strip() == '<span class="brand-name">Kaizen Dojo</span>'  # no logo set: the name alone
    css_url = html.split('href="', 1)[1].split('"', 1)[0]
    response = client.get(css_url)
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert "max-age=31536000" in response.headers["Cache-Control"]
    css = response.get_data(as_text=True)
    assert "--brand: #897400;" in css and "--brand-accent: #00aa88;" in css and "--brand-on-accent:" in css
    assert client.get("/brand/logo.svg").status_code == 404  # no logo configured


def test_the_brand_name_is_escaped_in_the_partials(make_app):
    app = make_app(BRAND_NAME="Tom & Jerry <Dojo>")
    with app.test_request_context("/"):
        logo = render_template_string('{% include "_brand_logo.html" %}')
    assert "Tom &amp; Jerry &lt;Dojo&gt;" in logo


def test_a_logo_in_the_instance_folder_is_served_with_its_type(make_app, base_config, tmp_path):
    instance = tmp_path / "instance"
    (instance / "brand").mkdir(parents=True)
    (instance / "brand" / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    (instance / "brand" / "mark.png").write_bytes(tiny_png())
    app = make_app(INSTANCE_PATH=str(instance), BRAND_LOGO="brand/logo.svg", BRAND_NAME="Kaizen Dojo")
    with app.test_request_context("/"):
        logo = render_template_string('{% include "_brand_logo.html" %}')
    assert '<img class="brand-logo" src="/brand/logo.svg?v=' in logo and 'alt=""' in logo and "Kaizen Dojo" in logo
    src = logo.split('src="', 1)[1].split('"', 1)[0]
    response = app.test_client().get(src)
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response.close()
    assert app.test_client().get("/brand/logo.png").status_code == 404  # only the configured file

    app = make_app(INSTANCE_PATH=str(instance), BRAND_LOGO="brand/mark.png")
    with app.test_request_context("/"):
        logo = render_template_string('{% include "_brand_logo.html" %}')
    src = logo.split('src="', 1)[1].split('"', 1)[0]
    response = app.test_client().get(src)
    assert response.status_code == 200 and response.mimetype == "image/png" and response.data == tiny_png()
    response.close()


def test_a_darkened_primary_is_said_at_start(make_app, caplog):
    with caplog.at_level("WARNING"):
        make_app(BRAND_PRIMARY_COLOR="#ffd700")
    assert "PORTAL_BRAND_PRIMARY_COLOR #ffd700 is below 4.5:1" in caplog.text


def test_a_template_rendered_without_a_request_reads_the_brand_name(app):
    """Emails are rendered by the worker, outside any request: `brand` must not build addresses then."""
    assert render_template_string("{{ brand.name }}") == "Training Portal"
