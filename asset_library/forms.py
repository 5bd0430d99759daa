"""Forms of the asset library pages and the labels of the pillar's coded values.

Evidence is typed as people say it (a +12 % lift, an interval of +4 % to +20 %)
and turned into the fractions the services expect by the views.
"""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FloatField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from asset_library.models import AssetKind, AssetStatus, Facet

KIND_LABELS = {
    AssetKind.METHOD: _l("Method"),
    AssetKind.TEMPLATE: _l("Template"),
    AssetKind.CHECKLIST: _l("Checklist"),
    AssetKind.PLAYBOOK: _l("Playbook"),
    AssetKind.SCRIPT: _l("Script"),
}
LANGUAGE_LABELS = {
    "zh": _l("Chinese"),
    "en": _l("English"),
    "mixed": _l("Chinese and English"),
}
STATUS_LABELS = {
    AssetStatus.DRAFT: _l("Draft"),
    AssetStatus.IN_REVIEW: _l("In review"),
    AssetStatus.PUBLISHED: _l("Published"),
    AssetStatus.NEEDS_REVERIFICATION: _l("Needs re-verification"),
    AssetStatus.ARCHIVED: _l("Archived"),
}
FACET_LABELS = {
    "kind": _l("Kind"),
    Facet.INDUSTRY: _l("Industry"),
    Facet.CUSTOMER_TYPE: _l("Customer type"),
    Facet.SCENARIO: _l("Scenario"),
    "language": _l("Language"),
}
DECISION_LABELS = {
    "adopt": _l("Adopt"),
    "iterate": _l("Iterate"),
    "abandon": _l("Abandon"),
}
#: Lifecycle buttons, in the order they are offered.
ACTION_LABELS = {
    "submit": _l("Submit for review"),
    "publish": _l("Publish"),
    "verify": _l("Confirm verification"),
    "reopen": _l("Back to draft"),
    "archive": _l("Archive"),
}


class AssetForm(FlaskForm):
    """The editor: the asset's text, facets and, optionally, its evidence."""

    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    summary = TextAreaField(_l("Summary"), validators=[Length(max=2000)])
    body = TextAreaField(_l("Body (Markdown)"), validators=[Length(max=50_000)])
    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice(k.value, label) for k, label in KIND_LABELS.items()],
    )
    industry = SelectField(_l("Industry"), choices=[])
    customer_type = SelectField(_l("Customer type"), choices=[])
    scenario = SelectField(_l("Scenario"), choices=[])
    language = SelectField(
        _l("Language"),
        choices=[SelectChoice(k, label) for k, label in LANGUAGE_LABELS.items()],
    )
    tags = StringField(_l("Tags"), validators=[Length(max=2000)])
    when_to_use = TextAreaField(_l("When to use it"), validators=[Length(max=5000)])
    when_not_to_use = TextAreaField(
        _l("When not to use it"), validators=[Length(max=5000)]
    )
    steps = TextAreaField(_l("Steps"), validators=[Length(max=20_000)])
    verification_interval_days = IntegerField(
        _l("Verification interval (days)"),
        default=90,
        validators=[DataRequired(), NumberRange(min=7, max=730)],
    )
    note = StringField(_l("What changed"), validators=[Length(max=300)])

    evidence_experiment = StringField(_l("Experiment key"), validators=[Length(max=64)])
    evidence_metric = StringField(_l("Metric"), validators=[Length(max=64)])
    evidence_lift = FloatField(_l("Lift (%)"), validators=[Optional()])
    evidence_ci_low = FloatField(_l("Interval from (%)"), validators=[Optional()])
    evidence_ci_high = FloatField(_l("Interval to (%)"), validators=[Optional()])
    evidence_p_value = FloatField(
        _l("p-value"), validators=[Optional(), NumberRange(min=0, max=1)]
    )
    evidence_sample_size = IntegerField(
        _l("Sample size"), validators=[Optional(), NumberRange(min=0)]
    )
    evidence_decision = SelectField(
        _l("Decision"),
        choices=[
            SelectChoice("", "—"),
            *(SelectChoice(k, label) for k, label in DECISION_LABELS.items()),
        ],
    )

    def set_vocabularies(self, choices: dict[str, list[tuple[str, str]]]) -> None:
        """Offer the active vocabulary values (and the asset's own, if retired)."""
        for facet in (Facet.INDUSTRY, Facet.CUSTOMER_TYPE, Facet.SCENARIO):
            field = self[facet.value]
            options = list(choices.get(facet.value, []))
            if field.data and field.data not in {key for key, _label in options}:
                options.append((field.data, field.data))
            field.choices = [
                SelectChoice("", _l("— none —")),
                *(SelectChoice(key, label) for key, label in options),
            ]


class UsedForm(FlaskForm):
    outcome = TextAreaField(
        _l("How did it go? (optional)"), validators=[Length(max=2000)]
    )


class RateForm(FlaskForm):
    stars = RadioField(
        _l("Your rating"),
        choices=[SelectChoice(str(n), str(n)) for n in range(1, 6)],
        validators=[DataRequired(_l("Choose 1 to 5 stars."))],
    )


class SynonymForm(FlaskForm):
    terms = StringField(_l("Terms"), validators=[DataRequired(), Length(max=2000)])


class FacetValueForm(FlaskForm):
    facet = SelectField(
        _l("Vocabulary"),
        choices=[
            SelectChoice(f.value, FACET_LABELS[f])
            for f in (Facet.INDUSTRY, Facet.CUSTOMER_TYPE, Facet.SCENARIO)
        ],
    )
    key = StringField(_l("Key"), validators=[DataRequired(), Length(max=64)])
    label_zh = StringField(
        _l("Chinese label"), validators=[DataRequired(), Length(max=100)]
    )
    label_en = StringField(
        _l("English label"), validators=[DataRequired(), Length(max=100)]
    )
    active = BooleanField(_l("Offered in filters and the editor"), default=True)
