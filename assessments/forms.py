"""Forms of the assessments pages and the labels of the pillar's coded values.

The answers of an attempt and the rubric levels of a grade are read from the
request by the views (their fields depend on the item); these forms carry the
CSRF token and the fixed fields.
"""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

ITEM_TYPE_LABELS = {
    "single": _l("Single choice"),
    "multiple": _l("Multiple choice"),
    "true_false": _l("True or false"),
    "numeric": _l("Numeric answer"),
    "ordering": _l("Ordering"),
    "matching": _l("Matching"),
    "short_text": _l("Short answer"),
    "long_text": _l("Long answer"),
}
ITEM_TYPE_HINTS = {
    "single": _l("Choose one."),
    "multiple": _l("Choose all that apply."),
    "true_false": _l("Choose true or false."),
    "numeric": _l("Enter a number."),
    "ordering": _l("Put the options in order with the arrow buttons."),
    "matching": _l("Choose a match for each item on the left."),
    "short_text": _l("Answer in a few sentences."),
    "long_text": _l("Answer in full; graders mark it against a rubric."),
}
CERTIFICATE_STATUS_LABELS = {
    "valid": _l("Valid"),
    "expired": _l("Expired"),
    "revoked": _l("Revoked"),
}
ATTEMPT_STATUS_LABELS = {
    "in_progress": _l("In progress"),
    "grading": _l("Waiting for grading"),
    "released": _l("Results released"),
}


class StartForm(FlaskForm):
    """Start (or continue) an attempt: only the CSRF token."""


class AnswersForm(FlaskForm):
    """The taking page as a plain form (saved without JavaScript, and the submit
    button); the answer fields are named ``q<position>`` and read by the view."""


class GradeForm(FlaskForm):
    """A grader's comment; the level per criterion comes as ``level-<id>``."""

    comment = TextAreaField(
        _l("Comment for the examinee (optional)"),
        validators=[Optional(), Length(max=4000)],
    )


class VerifyForm(FlaskForm):
    """Look up a certificate by its verification code (a GET form)."""

    class Meta:
        csrf = False

    code = StringField(
        _l("Verification code"),
        validators=[DataRequired(), Length(max=64)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
