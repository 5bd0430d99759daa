"""Pages: item_analysis_views."""

from assessments.views import bp  # noqa: F401
