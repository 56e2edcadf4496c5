"""Fixtures for mail tests (see tests/conftest.py for the shared toolkit)."""
