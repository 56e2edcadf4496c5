"""Signals between the concept packages (blinker, which Flask ships), for when a lower package must cause work in
a higher one. Each package declares the signals it sends in its own `signals.py`, with what is sent; the
packages that care connect receivers in their `receivers.py` (imported once by portal.app).

Receivers run at once, inside the sender's transaction: what they write is committed or rolled back with it.
"""

from __future__ import annotations

from typing import Any

from blinker import Namespace


def namespace() -> Namespace:
    """A package's own signals (one Namespace per package, so names never collide)."""
    return Namespace()


def answers(results: list[tuple[Any, Any]]) -> list[Any]:
    """What the receivers of one `send` returned, leaving out those that returned None."""
    return [value for _receiver, value in results if value is not None]
