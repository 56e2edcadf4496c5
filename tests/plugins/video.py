"""Fixtures for video tests (see tests/conftest.py for the shared toolkit)."""
