from flask import Blueprint

bp = Blueprint(
    "asset_library",
    __name__,
    template_folder="templates",
    static_folder="static",
    cli_group="assets",
)
