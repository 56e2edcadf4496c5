"""The Training Portal: instructors schedule live online training sessions, members join them.

`create_app` (portal.app) assembles every package. It is imported on first use, not with this package: the
processes that only need a part of the portal (the cron loop, the CLI's start) must not load all of it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        # Lazy on purpose (see above): `portal:create_app` (waitress --call) and `from portal import create_app`.
        from portal.app import create_app  # noqa: PLC0415  (loaded on first use: see the docstring)

        return create_app
    raise AttributeError(f"module 'portal' has no attribute {name!r}")
