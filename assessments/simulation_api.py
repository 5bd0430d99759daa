"""The simulations JSON API."""

from flask_smorest import Blueprint

simulations_api = Blueprint(
    "simulations_api",
    __name__,
    url_prefix="/api/v1/simulations",
    description="AI-coaching simulations: scenarios, attempts, scores and grading.",
)
