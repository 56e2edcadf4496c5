"""POST /api/auth/token: email + password -> a bearer token for the JSON API."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_login import current_user

from portal.accounts import operations
from portal.accounts.auth import api_auth_required, issue_token
from portal.core.api import json_body
from portal.core.errors import Unauthorized, ValidationFailed
from portal.core.web import csrf_exempt, no_store

bp = Blueprint("accounts_api", __name__, url_prefix="/api")


@bp.post("/auth/token")
@csrf_exempt  # exchanges credentials for a token; it reads no cookie
def token():
    body = json_body()
    email, password = body.get("email"), body.get("password")
    fields = {}
    if not isinstance(email, str) or not email.strip():
        fields["email"] = "Required."
    if not isinstance(password, str) or not password:
        fields["password"] = "Required."
    if fields:
        raise ValidationFailed(fields)
    user = operations.authenticate(email, password)
    if user is None:
        raise Unauthorized("That email and password do not match an active account.", code="bad_credentials")
    token_value, expires_at = issue_token(user)
    return no_store(jsonify({"token": token_value, "expires_at": expires_at.isoformat()}), private=True)


@bp.get("/me")
@api_auth_required
def me():
    return no_store(jsonify(user_json(current_user)), private=True)


def user_json(user) -> dict:
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role, "timezone": user.timezone}
