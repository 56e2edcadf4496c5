"""The video providers the portal knows: each provider module registers its ProviderKind when it is imported
(portal/video/__init__.py imports them all), and PORTAL_VIDEO_PROVIDER names one of them."""

from __future__ import annotations

from portal.video.port import ProviderKind

KINDS: dict[str, ProviderKind] = {}


def register(kind: ProviderKind) -> ProviderKind:
    """Make `kind` known by its name. Two providers under one name is a programming error, found at import."""
    if KINDS.get(kind.name, kind) is not kind:
        raise ValueError(f"a video provider named {kind.name!r} is registered already")
    KINDS[kind.name] = kind
    return kind


def find(name: str) -> ProviderKind | None:
    return KINDS.get(name)


def kind_named(name: str) -> ProviderKind:
    """The registered provider `name`; LookupError naming the registered ones if there is none."""
    kind = KINDS.get(name)
    if kind is None:
        raise LookupError(f"{name!r} is not a registered video provider (registered: {registered_names()})")
    return kind


def registered_names() -> str:
    return ", ".join(sorted(KINDS))
