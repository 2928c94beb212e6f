"""Dataset pages."""

from flask import Blueprint
from flask_login import login_required

from app.htmx import render

bp = Blueprint("datasets", __name__)


@bp.route("/")
@login_required
def index():
    """The datasets home: the user's datasets, or what to do first."""
    return render("datasets/index.html", datasets=[])
