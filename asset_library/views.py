"""Asset library pages (能力资产库)."""

from flask import render_template

from asset_library import bp
from proving_ground.access import ANY_ROLE, roles_required


@bp.route("/")
@roles_required(ANY_ROLE)
def index():
    return render_template("asset_library/index.html")
