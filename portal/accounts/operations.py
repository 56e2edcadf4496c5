"""Account writes. They flush and raise DomainErrors; the caller commits."""

from __future__ import annotations

import secrets
from functools import cache

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from portal.accounts import signals, throttle, tokens
from portal.accounts.models import User
from portal.accounts.roles import Role, has_role
from portal.accounts.rules import (
    check_role,
    could_be_stored_email,
    is_plausible_email,
    is_plausible_password,
    normalise_email,
    password_problem,
    validate_account,
)
from portal.accounts.sessions import end_other_login_sessions
from portal.core.clock import now_utc
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
        raise NotFound(_l("User not found."))
    return user


def create_user(
    email: str,
    name: str,
    password: str | None = None,
    *,
    role: str = Role.PUBLIC.value,
    timezone: str = "UTC",
    verified: bool = True,
) -> User:
    """A new account. `password` None: no usable password (an invitee sets one through the invitation link).
    `verified` False only for self sign-up: nothing but the verification link is mailed to it until it is used."""
    errors = validate_account(email, name, password, timezone, role, password_required=False)
    if not errors.get("email") and find_by_email(email) is not None:
        errors["email"] = _l("An account with this email already exists.")
    if errors:
        raise ValidationFailed(errors)
    user = User(
        email=normalise_email(email),
        name=name.strip(),
        role=role,
        timezone=timezone,
        email_verified_at=now_utc() if verified else None,
    )
    user.set_password(password if password is not None else secrets.token_urlsafe(32))
    db.session.add(user)
    db.session.flush()
    if not verified:  # the column's default (verified when made) fills in a None given at INSERT
        user.email_verified_at = None
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


# ------------------------------------------------------------------------------------------------ sign-up
def sign_up(email: str, name: str, password: str, *, timezone: str) -> User:
    """A self-made account, unverified: its verification link (valid 48 h) is queued."""
    user = create_user(email, name, password or "", timezone=timezone, verified=False)
    _mail(user, tokens.VERIFY_EMAIL)
    return user


def resend_verification(user: User) -> bool:
    """Another verification link for an unverified address (at most a few an hour); False when none was sent."""
    if user.email_verified_at is not None:
        return False
    if not throttle.hit_per_account(throttle.VERIFY_ACCOUNT, str(user.id)):
        return False
    _mail(user, tokens.VERIFY_EMAIL)
    return True


def verify_email(token: str) -> User:
    user, _ = tokens.read_token(tokens.VERIFY_EMAIL, token)
    user.email_verified_at = now_utc()
    db.session.flush()
    signals.user_changed.send(user, action="user.verify", actor=user, changes={"email": user.email})
    return user


# ------------------------------------------------------------------------------------------------ passwords
def request_password_reset(email: str) -> None:
    """Mail a reset link (valid 1 h) to the account with this address, if there is an active one; the same
    silence either way (the caller answers alike). An unverified address gets its verification link instead (no
    other email goes to it). At most RESET_ACCOUNT emails an hour to one account."""
    user = find_by_email(email) if isinstance(email, str) else None
    if user is None or not user.is_active:
        return
    if not throttle.hit_per_account(throttle.RESET_ACCOUNT, str(user.id)):
        return
    _mail(user, tokens.PASSWORD_RESET if user.email_verified_at else tokens.VERIFY_EMAIL)


def reset_password(token: str, password: str) -> User:
    """Set a new password from a reset link: the link is used up, every sign-in of the user ends and every API
    token is revoked. The link proved the address: it counts as verified."""
    user, _ = tokens.read_token(tokens.PASSWORD_RESET, token)
    _set_new_password(user, password, keep=None, verify=True)
    signals.user_changed.send(user, action="user.password_reset", actor=user, changes={})
    return user


def change_password(
    user: User, current_password: str, new_password: str, *, keep: str | None = None, address: str | None = None
) -> None:
    """A password change needs the current password. Every other sign-in of the user ends (`keep`: the browser
    sign-in that asked), and every API token is revoked. A wrong current password counts as a failed sign-in."""
    if not isinstance(current_password, str) or not is_plausible_password(current_password):
        raise ValidationFailed({"current_password": _l("Enter your current password.")})
    if not user.check_password(current_password):
        throttle.sign_in_failed(user.email, address)
        raise ValidationFailed({"current_password": _l("That is not your current password.")})
    if isinstance(new_password, str) and new_password == current_password:
        raise ValidationFailed({"new_password": _l("Choose a password other than the current one.")})
    _set_new_password(user, new_password, keep=keep, field="new_password")
    signals.user_changed.send(user, action="user.password", actor=user, changes={})


def _set_new_password(
    user: User, password: str, *, keep: str | None, field: str = "password", verify: bool = False
) -> None:
    """`verify`: the password is set from a link mailed to the address, which proves it."""
    if problem := password_problem(password if isinstance(password, str) else None, email=user.email):
        raise ValidationFailed({field: problem})
    user.set_password(password)  # a new token version: every API token issued before is refused
    if verify and user.email_verified_at is None:
        user.email_verified_at = now_utc()
    end_other_login_sessions(user, keep=keep)
    db.session.flush()


# ------------------------------------------------------------------------------------------------ invitations
def send_invitation(user: User, *, actor: User | None) -> None:
    """Queue the invitation email (link valid 7 days; used up once the invitee sets a password)."""
    if not user.is_active:
        raise Conflict(_l("This account is deactivated; reactivate it before inviting."))
    _mail(user, tokens.INVITATION, {"invited_by": actor.name if actor is not None else None})
    signals.user_changed.send(user, action="user.invite", actor=actor, changes={"email": user.email})


def accept_invitation(token: str, password: str) -> User:
    """The invitee chooses a password: the link is used up; the address is verified (the link came to it)."""
    user, _ = tokens.read_token(tokens.INVITATION, token)
    _set_new_password(user, password, keep=None, verify=True)
    signals.user_changed.send(user, action="user.accept_invitation", actor=user, changes={})
    return user


# ------------------------------------------------------------------------------------------------ email change
def request_email_change(user: User, new_email: str, current_password: str, *, address: str | None = None) -> bool:
    """Ask for a new address (the current password is needed). A verified account keeps its address until the
    link mailed to the new one is followed (True: a link was sent). An unverified one (a typo at sign-up, say)
    changes at once and is mailed a verification link at the new address (False)."""
    errors: dict[str, str] = {}
    email = normalise_email(new_email if isinstance(new_email, str) else "")
    if not email:
        errors["email"] = _l("Enter the new email address.")
    elif not is_plausible_email(email):
        errors["email"] = _l("Enter a valid email address, like name@example.org.")
    elif email == user.email:
        errors["email"] = _l("This is already your address.")
    elif find_by_email(email) is not None:
        errors["email"] = _l("Another account uses this address.")
    if not isinstance(current_password, str) or not is_plausible_password(current_password):
        errors["current_password"] = _l("Enter your current password.")
    elif not user.check_password(current_password):
        throttle.sign_in_failed(user.email, address)
        errors["current_password"] = _l("That is not your current password.")
    if errors:
        raise ValidationFailed(errors)
    if user.email_verified_at is None:
        _change_email(user, email)
        _mail(user, tokens.VERIFY_EMAIL)
        return False
    _mail(user, tokens.EMAIL_CHANGE, {"new_email": email})
    return True


def confirm_email_change(token: str) -> User:
    user, carried = tokens.read_token(tokens.EMAIL_CHANGE, token)
    new_email = carried["new_email"]
    if find_by_email(new_email) is not None:
        raise Conflict(_l("Another account took this address meanwhile; nothing changed."), code="email_taken")
    _change_email(user, new_email)
    user.email_verified_at = now_utc()
    db.session.flush()
    return user


def _change_email(user: User, email: str) -> None:
    old = user.email
    user.email = email
    db.session.flush()
    signals.user_changed.send(user, action="user.email", actor=user, changes={"email": [old, email]})


def _mail(user: User, kind: str, context: dict | None = None) -> None:
    signals.account_mail.send(user, kind=kind, context=context or {})


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
        raise Forbidden(_l("Only admins change roles."))
    user = get_user(user_id)
    if role_error := check_role(role):
        raise ValidationFailed({"role": role_error})
    if user.id == actor.id and role != Role.ADMIN.value:
        raise Conflict(_l("You cannot take the admin role from yourself; ask another admin."))
    old = user.role
    user.role = role
    db.session.flush()
    signals.user_changed.send(user, action="user.role", actor=actor, changes={"role": [old, role]})
    return user


def set_active(user_id: int, is_active: bool, *, actor: User) -> User:
    if not has_role(actor, Role.ADMIN):
        raise Forbidden(_l("Only admins deactivate accounts."))
    user = get_user(user_id)
    if user.id == actor.id and not is_active:
        raise Conflict(_l("You cannot deactivate your own account."))
    user.is_active = is_active
    db.session.flush()
    signals.user_changed.send(user, action="user.active", actor=actor, changes={"is_active": is_active})
    return user


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16))
