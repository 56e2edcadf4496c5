from flask import Blueprint

bp = Blueprint("training_api", __name__, url_prefix="/api")
