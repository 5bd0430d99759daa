"""The AI-readiness baseline JSON API."""

from flask_smorest import Blueprint

readiness_api = Blueprint(
    "readiness_api",
    __name__,
    url_prefix="/api/v1/readiness",
    description="Quarterly AI-readiness campaigns, results and the team heat map.",
)
