"""Pieces every concept package shares: the clock, the database base, errors, htmx and queue helpers."""
