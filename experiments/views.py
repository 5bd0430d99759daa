"""Experiments pages (能力实验沙盒)."""

from flask import render_template

from experiments import bp
from proving_ground.access import ANY_ROLE, roles_required


@bp.route("/")
@roles_required(ANY_ROLE)
def index():
    return render_template("experiments/index.html")
