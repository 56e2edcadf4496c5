"""Fixtures for jobs tests (see tests/conftest.py for the shared toolkit)."""
