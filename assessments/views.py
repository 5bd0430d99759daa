"""Assessments pages (评估)."""

from flask import render_template

from assessments import bp
from proving_ground.access import ANY_ROLE, roles_required


@bp.route("/")
@roles_required(ANY_ROLE)
def index():
    return render_template("assessments/index.html")
