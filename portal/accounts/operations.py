"""Account writes. They flush and raise DomainErrors; the caller commits."""

from __future__ import annotations

import secrets
from functools import cache

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from portal.accounts import signals
from portal.accounts.models import User
from portal.accounts.roles import Role, has_role
from portal.accounts.rules import (
    check_role,
    could_be_stored_email,
    is_plausible_password,
    normalise_email,
    validate_account,
)
from portal.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from portal.core.validation import is_id
from portal.extensions import db


def find_by_email(email: str) -> User | None:
    """The account with this address; None without a query for one no account can have (a NUL, which
    PostgreSQL refuses to compare, or a lone surrogate, which no driver can send)."""
    email = normalise_email(email)
    if not could_be_stored_email(email):
        return None
    return db.session.scalar(select(User).where(User.email == email))


def get_user(user_id: int) -> User:
    """The account, or NotFound; an id beyond the database's integers is not looked up (it would raise there)."""
    user = db.session.get(User, user_id) if is_id(user_id) else None
    if user is None:
        raise NotFound("User not found.")
    return user


def create_user(
    email: str,
    name: str,
    password: str,
    *,
    role: str = Role.PUBLIC.value,
    timezone: str = "UTC",
) -> User:
    errors = validate_account(email, name, password, timezone, role)
    if not errors.get("email") and find_by_email(email) is not None:
        errors["email"] = "An account with this email already exists."
    if errors:
        raise ValidationFailed(errors)
    user = User(email=normalise_email(email), name=name.strip(), role=role, timezone=timezone)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    signals.user_changed.send(user, action="user.create", actor=None, changes={"email": user.email, "role": role})
    return user


def authenticate(email: str, password: str) -> User | None:
    if not is_plausible_password(password or ""):
        return None  # no account has such a password (nor is one hashed): says nothing about the email
    user = find_by_email(email or "")
    if user is None:
        # Spend the same time as a real check so response times do not reveal which emails exist.
        check_password_hash(_dummy_hash(), password)
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    return user


def update_profile(user: User, *, name: str, timezone: str, password: str | None = None) -> User:
    errors = validate_account(user.email, name, password or None, timezone, password_required=False)
    if errors:
        raise ValidationFailed(errors)
    user.name = name.strip()
    user.timezone = timezone
    if password:
        user.set_password(password)
    db.session.flush()
    return user


def change_role(user_id: int, role: str, *, actor: User) -> User:
    if not has_role(actor, Role.ADMIN):
        raise Forbidden("Only admins change roles.")
    user = get_user(user_id)
    if role_error := check_role(role):
        raise ValidationFailed({"role": role_error})
    if user.id == actor.id and role != Role.ADMIN.value:
        raise Conflict("You cannot take the admin role from yourself; ask another admin.")
    old = user.role
    user.role = role
    db.session.flush()
    signals.user_changed.send(user, action="user.role", actor=actor, changes={"role": [old, role]})
    return user


def set_active(user_id: int, is_active: bool, *, actor: User) -> User:
    if not has_role(actor, Role.ADMIN):
        raise Forbidden("Only admins deactivate accounts.")
    user = get_user(user_id)
    if user.id == actor.id and not is_active:
        raise Conflict("You cannot deactivate your own account.")
    user.is_active = is_active
    db.session.flush()
    signals.user_changed.send(user, action="user.active", actor=actor, changes={"is_active": is_active})
    return user


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16))
