"""Roles, in ascending order of what they may do. A role may everything the roles below it may."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    PUBLIC = "public"
    MEMBER = "member"
    INSTRUCTOR = "instructor"
    BOARD_MEMBER = "board_member"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_ORDER = [Role.PUBLIC, Role.MEMBER, Role.INSTRUCTOR, Role.BOARD_MEMBER, Role.ADMIN]
ROLES = tuple(_ORDER)


def has_role(user, minimum: Role) -> bool:
    """True if `user` (a User, or None / anonymous) holds `minimum` or a higher role."""
    role = getattr(user, "role", None)
    if role is None or not getattr(user, "is_authenticated", False):
        return False
    return Role(role).at_least(minimum)
