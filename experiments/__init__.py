from flask import Blueprint

bp = Blueprint("experiments", __name__, template_folder="templates")
