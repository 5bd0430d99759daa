"""The assessments JSON API: items, exams, attempts, grading and certificates."""

from flask_smorest import Blueprint

assessments_api = Blueprint(
    "assessments_api",
    __name__,
    url_prefix="/api/v1/assessments",
    description="Item bank, exams, attempts, grading and certificates.",
)
