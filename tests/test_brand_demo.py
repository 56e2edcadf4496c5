"""`portal demo` and the brand: bios for the demo instructors (their pages open), a brand that loads as settings."""

from __future__ import annotations

from sqlalchemy import select

from portal.accounts.models import User
from portal.config import load_settings
from portal.demo import BIOS, DEMO_BRAND, USERS
from portal.extensions import db
from tests.test_demo import run_demo


def test_the_demo_brand_is_valid_settings():
    settings = load_settings(
        {}, environ={"PORTAL_ENV": "test", "PORTAL_SECRET_KEY": "k" * 8 + "demo-brand-0123456789abcdef", **DEMO_BRAND}
    )
    assert DEMO_BRAND["PORTAL_BRAND_NAME"] == settings.BRAND_NAME and not settings.primary_darkened


def test_the_demo_instructors_have_bios_and_pages(monkeypatch, base_config, tmp_path, client):
    output = run_demo(monkeypatch, base_config, tmp_path)
    emails = {spec.key: spec.email for spec in USERS}
    for key, bio in BIOS.items():
        user = db.session.scalar(select(User).where(User.email == emails[key]))
        assert user.bio == bio and f"/instructors/{user.id}" in output
        page = client.get(f"/instructors/{user.id}")  # they teach public demo sessions: public pages
        assert page.status_code == 200 and bio.split("\n")[0] in page.get_data(as_text=True)
    assert "PORTAL_BRAND_NAME='Kaizen Karate Association'" in output
