"""HR pages of the assessments pillar: capability map, item bank, exams, cut
scores, certifications and reports."""

from assessments import bp  # noqa: F401
