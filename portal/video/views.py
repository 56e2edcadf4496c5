from flask import Blueprint

bp = Blueprint("video", __name__)
