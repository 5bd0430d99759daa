"""Exams seen as response matrices: external exams, imported responses and
item analysis."""

from flask_smorest import Blueprint

exams_api = Blueprint(
    "exams_api",
    __name__,
    url_prefix="/api/v1/exams",
    description="External exams, imported responses and item analysis.",
)
