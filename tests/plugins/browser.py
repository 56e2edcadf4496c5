"""Fixtures for browser tests (see tests/conftest.py for the shared toolkit)."""
