from flask import Blueprint

bp = Blueprint("seats_api", __name__, url_prefix="/api")
