from flask import Blueprint, render_template

bp = Blueprint("training", __name__)


@bp.get("/", endpoint="home")
def home():
    return render_template("home.html")
