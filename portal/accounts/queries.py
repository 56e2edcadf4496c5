"""Reads of accounts."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from portal.accounts.models import User
from portal.core.errors import BadRequest
from portal.core.validation import storable_text
from portal.extensions import db


def search_users(q: str) -> list[User]:
    """Every user by name, or those whose email or name contains `q` (any case) when it is not blank. A search
    for a NUL (PostgreSQL refuses to compare one) is a BadRequest."""
    if not storable_text(q):
        raise BadRequest(_l("The search contains a character that is not allowed."), code="malformed")
    stmt = select(User).order_by(func.lower(User.name))
    query = q.strip()
    if query:
        like = f"%{query.lower()}%"
        stmt = stmt.where(or_(func.lower(User.email).like(like), func.lower(User.name).like(like)))
    return list(db.session.scalars(stmt).all())
