"""Pure validation of account fields. Each returns a dict field -> message; empty means valid."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from portal.accounts.roles import Role
from portal.core.timezones import is_valid_timezone

MIN_PASSWORD = 10


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def validate_account(
    email: str | None,
    name: str | None,
    password: str | None,
    timezone: str | None,
    role: str | None = None,
    *,
    password_required: bool = True,
) -> dict[str, str]:
    errors: dict[str, str] = {}
    email = normalise_email(email or "")
    if not email:
        errors["email"] = "Enter an email address."
    else:
        try:
            validate_email(email, check_deliverability=False)
        except EmailNotValidError:
            errors["email"] = "Enter a valid email address, like name@example.org."
    name = (name or "").strip()
    if not name:
        errors["name"] = "Enter your name."
    elif len(name) > 120:
        errors["name"] = "Keep the name to 120 characters."
    if password is not None or password_required:
        if not password:
            errors["password"] = "Choose a password."
        elif len(password) < MIN_PASSWORD:
            errors["password"] = f"Use at least {MIN_PASSWORD} characters."
        elif len(password) > 200:
            errors["password"] = "Keep the password to 200 characters."
    if timezone is not None and not is_valid_timezone(timezone):
        errors["timezone"] = "Choose a time zone from the list."
    if role is not None and (role_error := check_role(role)):
        errors["role"] = role_error
    return errors


def check_role(role: str) -> str | None:
    """The message for a role that does not exist, or None."""
    if role in {r.value for r in Role}:
        return None
    return f"Role must be one of: {', '.join(r.value for r in Role)}."
