from flask import Blueprint

bp = Blueprint("seats", __name__)
