"""Roles, in ascending order of what they may do. A role may everything the roles below it may."""

from __future__ import annotations

from enum import StrEnum

from flask_babel import lazy_gettext as _l


class Role(StrEnum):
    PUBLIC = "public"
    MEMBER = "member"
    INSTRUCTOR = "instructor"
    BOARD_MEMBER = "board_member"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def label(self) -> str:
        return _ROLE_LABELS[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_ORDER = [Role.PUBLIC, Role.MEMBER, Role.INSTRUCTOR, Role.BOARD_MEMBER, Role.ADMIN]
ROLES = tuple(_ORDER)
_RANK: dict[str, int] = {role.value: rank for rank, role in enumerate(_ORDER)}  # asked on every request, many times
# As people read them, in their language (lazy: shown in the request's); English: "Public", "Board member", ...
_ROLE_LABELS = {
    Role.PUBLIC: _l("Public"),
    Role.MEMBER: _l("Member"),
    Role.INSTRUCTOR: _l("Instructor"),
    Role.BOARD_MEMBER: _l("Board member"),
    Role.ADMIN: _l("Admin"),
}


def has_role(user, minimum: Role) -> bool:
    """True if `user` (a User, or None / anonymous) holds `minimum` or a higher role."""
    role = getattr(user, "role", None)
    if role is None or not getattr(user, "is_authenticated", False):
        return False
    rank = _RANK.get(role)
    if rank is None:
        return Role(role).at_least(minimum)  # not a role: ValueError, as ever
    return rank >= _RANK[minimum]
