"""Pages: readiness_views."""

from assessments.views import bp  # noqa: F401
