"""What admins do to people from the web: add a person (with or without an invitation), deactivate and
reactivate. They flush and raise DomainErrors; the caller commits.

A person added by an admin has no password at all (`new_person`); the invitation link
(operations.send_invitation, portal.accounts.tokens) lets them choose one.
Deactivating sends `signals.user_deactivated`, and seats release the person's places in sessions to come.
"""

from __future__ import annotations

import secrets

from flask_babel import lazy_gettext as _l

from portal.accounts import operations, signals
from portal.accounts.models import User
from portal.accounts.roles import Role, has_role
from portal.accounts.rules import normalise_email, validate_account
from portal.core.errors import Conflict, Forbidden, ValidationFailed
from portal.core.i18n import fill
from portal.extensions import db

ADMIN_ONLY = {
    "import people": _l("Only admins import people."),
    "add people": _l("Only admins add people."),
    "invite people": _l("Only admins invite people."),
    "deactivate accounts": _l("Only admins deactivate accounts."),
    "reactivate accounts": _l("Only admins reactivate accounts."),
}


def require_admin(actor: User, what: str) -> None:
    if not has_role(actor, Role.ADMIN):
        raise Forbidden(ADMIN_ONLY.get(what) or _l("Only admins may do this."))


def person_errors(email: str, name: str, role: str, timezone: str) -> dict[str, str]:
    """The field -> message of a person an admin adds (no password: they choose it through the invitation)."""
    errors = validate_account(email, name, None, timezone, role, password_required=False)
    if not errors.get("email") and operations.find_by_email(email) is not None:
        errors["email"] = _l("A person with this email already exists.")
    return errors


def new_person(email: str, name: str, role: str, timezone: str) -> User:
    """A User row for a checked person, with no password: a stored value no password matches (not a hash format,
    so checking it fails at once, and an import of 10,000 people spends no hashing), different for each person."""
    user = User(email=normalise_email(email), name=name.strip(), role=role, timezone=timezone)
    user.password_hash = f"!no-password-{secrets.token_hex(24)}"
    return user


def add_person(email: str, name: str, role: str, timezone: str, *, actor: User) -> User:
    """A new account made by an admin; nobody can sign in to it until the person sets a password from a link."""
    require_admin(actor, "add people")
    errors = person_errors(email, name, role, timezone)
    if errors:
        raise ValidationFailed(errors)
    user = new_person(email, name, role, timezone)
    db.session.add(user)
    db.session.flush()
    signals.user_changed.send(
        user, action="user.create", actor=actor, changes={"email": user.email, "role": role, "timezone": timezone}
    )
    return user


def invite(user_id: int, *, actor: User) -> User:
    """Mail the person a link to choose their password (auth's invitation: single use, valid 7 days; a new one
    each time, the mail sent after the request commits). Refused for a deactivated account."""
    require_admin(actor, "invite people")
    user = operations.get_user(user_id)
    if not user.is_active:
        raise Conflict(
            fill(_l("%(name)s is deactivated; reactivate the account before inviting them."), name=user.name)
        )
    operations.send_invitation(user, actor=actor)
    return user


def deactivate(user_id: int, *, actor: User) -> User:
    """No more sign-in (sessions, remember-me and API tokens stop working: the loaders refuse an inactive user);
    seats in sessions to come are released and their waitlists promoted; everything already recorded stays."""
    require_admin(actor, "deactivate accounts")
    user = operations.get_user(user_id)
    if not user.is_active:
        return user  # already: nothing more to release
    if user.id == actor.id:
        raise Conflict(_l("You cannot deactivate your own account."))
    # Sent while the account is still active: the seats are given up as the person would give them up themselves
    # (an inactive user counts as signed out). Same transaction: a failure below undoes the releases too.
    signals.user_deactivated.send(user, actor=actor)
    return operations.set_active(user_id, False, actor=actor)


def reactivate(user_id: int, *, actor: User) -> User:
    """The person may sign in again; released seats are not given back (others may hold them now)."""
    require_admin(actor, "reactivate accounts")
    user = operations.get_user(user_id)
    if user.is_active:
        return user
    return operations.set_active(user_id, True, actor=actor)
