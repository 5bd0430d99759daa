"""Forms of the experiments pages and the labels of the pillar's coded values.

Percentages are typed as people say them (a 50 % share, a 5 % minimum detectable
effect) and turned into the fractions the services expect by the views.
"""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    FloatField,
    Form,
    FormField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)

from experiments.models import (
    Aggregate,
    CapKind,
    Decision,
    Direction,
    ExperimentStatus,
    MetricKind,
    MetricRole,
    UnitType,
)
from proving_ground.auth.forms import MultiCheckboxField

STATUS_LABELS = {
    ExperimentStatus.DRAFT: _l("Draft"),
    ExperimentStatus.RUNNING: _l("Running"),
    ExperimentStatus.PAUSED: _l("Paused"),
    ExperimentStatus.STOPPED: _l("Stopped"),
    ExperimentStatus.DECIDED: _l("Decided"),
    ExperimentStatus.ARCHIVED: _l("Archived"),
}
UNIT_LABELS = {
    UnitType.LEAD: _l("Lead"),
    UnitType.CUSTOMER: _l("Customer"),
    UnitType.ACCOUNT: _l("Customer account"),
    UnitType.REP: _l("Rep"),
    UnitType.STORE: _l("Store"),
}
ROLE_LABELS = {
    MetricRole.PRIMARY: _l("Primary metrics"),
    MetricRole.SECONDARY: _l("Secondary metrics"),
    MetricRole.GUARDRAIL: _l("Guardrail metrics"),
}
KIND_LABELS = {
    MetricKind.PROPORTION: _l("Proportion"),
    MetricKind.MEAN: _l("Mean"),
    MetricKind.RATIO: _l("Ratio"),
}
AGGREGATE_LABELS = {Aggregate.COUNT: _l("Count"), Aggregate.SUM: _l("Sum of values")}
DIRECTION_LABELS = {
    Direction.INCREASE: _l("Higher is better"),
    Direction.DECREASE: _l("Lower is better"),
}
#: The owner's decision (采纳 / 迭代 / 放弃) and, for recommendations only,
#: keep running.
DECISION_LABELS = {
    Decision.ADOPT: _l("Adopt"),
    Decision.ITERATE: _l("Iterate"),
    Decision.ABANDON: _l("Abandon"),
    "keep_running": _l("Keep running"),
}
DECISION_HINTS = {
    Decision.ADOPT: _l("Roll the treatment out; it becomes the new practice."),
    Decision.ITERATE: _l("Change the design or the practice and test again."),
    Decision.ABANDON: _l("Keep the current practice; drop the treatment."),
}
CORRECTION_LABELS = {
    "holm": _l("Holm (family-wise error rate)"),
    "bh": _l("Benjamini–Hochberg (false discovery rate)"),
    "none": _l("None"),
}
CAP_LABELS = {
    CapKind.ABSOLUTE: _l("Absolute value"),
    CapKind.PERCENTILE: _l("Percentile"),
}


def _choices(labels):
    return [SelectChoice(key.value, label) for key, label in labels.items()]


class Between:
    """A number strictly between two bounds (NumberRange includes them)."""

    def __init__(self, low: float, high: float, message):
        self.low, self.high, self.message = low, high, message

    def __call__(self, form, field):
        if field.data is not None and not self.low < field.data < self.high:
            raise ValidationError(self.message)


class Given:
    """Required, judged on the value, so a default counts (unlike InputRequired,
    which wants the field in the request: GET forms may be partly filled by a link)."""

    field_flags = {"required": True}

    def __call__(self, form, field):
        if field.data is None and not field.process_errors:
            raise StopValidation(field.gettext("This field is required."))


# --- experiments -------------------------------------------------------------------


class VariantForm(Form):
    """One row of the variants table (a sub-form: the parent carries the CSRF token)."""

    key = StringField(_l("Key"), validators=[Optional(), Length(max=64)])
    name = StringField(_l("Variant name"), validators=[Optional(), Length(max=200)])
    description = StringField(_l("Description"))
    share = FloatField(
        _l("Share (%)"),
        validators=[
            InputRequired(_l("Give the share in %.")),
            Between(0, 100, _l("A share is more than 0 and less than 100 %.")),
        ],
    )


class ExperimentForm(FlaskForm):
    """The whole design of a draft experiment."""

    key = StringField(_l("Key"), validators=[DataRequired(), Length(min=2, max=64)])
    name = StringField(
        _l("Experiment name"), validators=[DataRequired(), Length(max=200)]
    )
    team = StringField(_l("Team"), validators=[Optional(), Length(max=120)])
    hypothesis_if = TextAreaField(_l("If we …"))
    hypothesis_then = TextAreaField(_l("then …"))
    hypothesis_because = TextAreaField(_l("because …"))
    unit_type = SelectField(_l("Unit"), choices=_choices(UNIT_LABELS))
    randomisation = RadioField(
        _l("Randomisation"),
        choices=[
            SelectChoice("unit", _l("Each unit on its own")),
            SelectChoice(
                "cluster", _l("Cluster randomisation: all units of a cluster together")
            ),
        ],
        default="unit",
    )
    cluster_attribute = StringField(
        _l("Cluster attribute"), validators=[Optional(), Length(max=64)]
    )
    variants = FieldList(FormField(VariantForm), min_entries=2, max_entries=10)
    #: The index of the control among the variant rows (one radio group).
    control = RadioField(_l("Control"), default="0", validate_choice=True)
    add_variant = SubmitField(_l("Add a variant"))
    remove_variant = SubmitField(_l("Remove the last variant"))
    primary_metrics = MultiCheckboxField(_l("Primary metrics"), choices=[])
    secondary_metrics = MultiCheckboxField(_l("Secondary metrics"), choices=[])
    guardrail_metrics = MultiCheckboxField(_l("Guardrail metrics"), choices=[])
    alpha = FloatField(
        _l("Significance level (alpha)"),
        default=0.05,
        validators=[InputRequired(), NumberRange(min=0.001, max=0.2)],
    )
    power = FloatField(
        _l("Power"),
        default=0.8,
        validators=[InputRequired(), NumberRange(min=0.5, max=0.99)],
    )
    mde_percent = FloatField(
        _l("Minimum detectable effect (%)"),
        validators=[
            Optional(),
            Between(0, 1000, _l("Give a positive percentage, e.g. 5 for +5 %.")),
        ],
    )
    planned_units = IntegerField(
        _l("Planned sample size (units per variant)"),
        validators=[Optional(), NumberRange(min=1, max=1_000_000_000)],
    )
    sequential = BooleanField(_l("Sequential testing"))
    cuped = BooleanField(_l("CUPED variance reduction"), default=True)
    planned_duration_days = IntegerField(
        _l("Planned duration (days)"),
        default=14,
        validators=[InputRequired(), NumberRange(min=1, max=365)],
    )
    success_criteria = TextAreaField(_l("Success criteria"))
    early_stop_criteria = TextAreaField(_l("Early-stop criteria"))

    def __init__(self, *args, metric_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("primary_metrics", "secondary_metrics", "guardrail_metrics"):
            getattr(self, name).choices = list(metric_choices)
        self.sync_control_choices()
        #: Messages about the variants as a whole (weights, control).
        self.variant_errors: list[str] = []

    def sync_control_choices(self) -> None:
        self.control.choices = [
            SelectChoice(str(index), str(index + 1))
            for index in range(len(self.variants))
        ]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        shares = [row.form.share.data for row in self.variants]
        if all(share is not None for share in shares):
            total = sum(shares)
            if abs(total - 100) > 1e-4:
                self.variant_errors.append(
                    str(
                        _l(
                            "The shares add up to %(total)s %%; they must total 100.",
                            total=f"{total:g}",
                        )
                    )
                )
                valid = False
        return valid


class ExperimentNamesForm(FlaskForm):
    """What may change once an experiment has started."""

    name = StringField(
        _l("Experiment name"), validators=[DataRequired(), Length(max=200)]
    )
    team = StringField(_l("Team"), validators=[Optional(), Length(max=120)])


class TransitionForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[Length(max=1000)])


class AssignForm(FlaskForm):
    file = FileField(
        _l("CSV file of units"), validators=[FileRequired(_l("Choose a CSV file."))]
    )


# --- metrics -----------------------------------------------------------------------


class MetricForm(FlaskForm):
    key = StringField(_l("Key"), validators=[DataRequired(), Length(min=2, max=64)])
    name_zh = StringField(_l("Name (Chinese)"), validators=[Length(max=200)])
    name_en = StringField(_l("Name (English)"), validators=[Length(max=200)])
    description_zh = TextAreaField(_l("Description (Chinese)"))
    description_en = TextAreaField(_l("Description (English)"))
    kind = SelectField(_l("Metric type"), choices=_choices(KIND_LABELS))
    event_types = StringField(
        _l("Event types"), validators=[DataRequired(), Length(max=1000)]
    )
    aggregate = SelectField(_l("Aggregate"), choices=_choices(AGGREGATE_LABELS))
    denominator_event_types = StringField(
        _l("Denominator event types"), validators=[Length(max=1000)]
    )
    denominator_aggregate = SelectField(
        _l("Denominator aggregate"), choices=_choices(AGGREGATE_LABELS)
    )
    window_days = IntegerField(
        _l("Window (days after exposure)"),
        default=30,
        validators=[InputRequired(), NumberRange(min=1, max=365)],
    )
    direction = SelectField(_l("Direction"), choices=_choices(DIRECTION_LABELS))
    cap_kind = SelectField(
        _l("Capping"),
        choices=[SelectChoice("", _l("No capping")), *_choices(CAP_LABELS)],
    )
    cap_value = FloatField(_l("Cap value"), validators=[Optional()])
    cuped_lookback_days = IntegerField(
        _l("CUPED lookback (days before exposure)"),
        validators=[Optional(), NumberRange(min=1, max=365)],
    )

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.cap_kind.data and self.cap_value.data is None:
            if not self.cap_value.errors:
                self.cap_value.errors.append(_l("Give the cap value."))
            valid = False
        return valid


# --- power, imports, write keys -------------------------------------------------------


class PowerForm(FlaskForm):
    """The sample-size calculator: a GET form, so no CSRF token."""

    class Meta:
        csrf = False

    metric_type = RadioField(
        _l("Metric type"),
        choices=[
            SelectChoice("proportion", _l("Proportion (a rate, e.g. the win rate)")),
            SelectChoice("mean", _l("Mean (e.g. deal value per lead)")),
        ],
        default="proportion",
    )
    baseline_rate = FloatField(
        _l("Baseline rate (%)"),
        validators=[
            Optional(),
            Between(0, 100, _l("A rate is more than 0 and less than 100 %.")),
        ],
    )
    baseline_mean = FloatField(_l("Baseline mean"), validators=[Optional()])
    sd = FloatField(_l("Standard deviation"), validators=[Optional()])
    mde = FloatField(
        _l("Minimum detectable effect (relative, %)"),
        default=5,
        validators=[
            Given(),
            Between(0, 1000, _l("Give a positive percentage, e.g. 5 for +5 %.")),
        ],
    )
    alpha = FloatField(
        _l("Significance level (alpha)"),
        default=0.05,
        validators=[Given(), Between(0, 1, _l("Alpha is between 0 and 1."))],
    )
    power = FloatField(
        _l("Power"),
        default=0.8,
        validators=[Given(), Between(0, 1, _l("Power is between 0 and 1."))],
    )
    variants = IntegerField(
        _l("Number of variants (with the control)"),
        default=2,
        validators=[Given(), NumberRange(min=2, max=10)],
    )
    weekly_units = FloatField(
        _l("Units entering per week"),
        validators=[Optional(), NumberRange(min=1)],
    )

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.metric_type.data == "mean":
            required = {
                self.baseline_mean: _l("Give the baseline mean."),
                self.sd: _l("Give the standard deviation."),
            }
        else:
            required = {self.baseline_rate: _l("Give the baseline rate.")}
        for field, message in required.items():
            if field.data is None and not field.errors:
                field.errors.append(message)
                valid = False
        return valid


class EventImportForm(FlaskForm):
    file = FileField(
        _l("CSV file of events"), validators=[FileRequired(_l("Choose a CSV file."))]
    )


class WriteKeyForm(FlaskForm):
    name = StringField(
        _l("Write key name"), validators=[DataRequired(), Length(max=100)]
    )


# --- results: what-if settings, decision, action items ----------------------------


class AnalysisForm(FlaskForm):
    """The analysis settings of the results page (a GET form, so no CSRF token).

    Field names are the results API's query arguments; the results service checks
    the values (``Options.of``), so the fields only carry them."""

    class Meta:
        csrf = False

    cuped = SelectField(
        _l("CUPED variance reduction"),
        choices=[SelectChoice("1", _l("On")), SelectChoice("0", _l("Off"))],
    )
    sequential = SelectField(
        _l("Sequential testing"),
        choices=[SelectChoice("1", _l("On")), SelectChoice("0", _l("Off"))],
    )
    sequential_tuning = StringField(
        _l("Sequential N* (units)"), render_kw={"inputmode": "numeric"}
    )
    alpha = StringField(
        _l("Significance level (alpha)"), render_kw={"inputmode": "decimal"}
    )
    correction = SelectField(
        _l("Multiple testing correction"),
        choices=[SelectChoice(key, label) for key, label in CORRECTION_LABELS.items()],
    )


class DecisionForm(FlaskForm):
    decision = RadioField(
        _l("Decision"),
        choices=[
            SelectChoice(d.value, DECISION_LABELS[d])
            for d in (Decision.ADOPT, Decision.ITERATE, Decision.ABANDON)
        ],
        validators=[InputRequired(_l("Choose adopt, iterate or abandon."))],
    )
    rationale = TextAreaField(
        _l("Rationale"),
        validators=[
            DataRequired(_l("Say why: the rationale is part of the record.")),
            Length(max=5000),
        ],
    )


class ActionItemForm(FlaskForm):
    title = StringField(
        _l("What is to be done"),
        validators=[DataRequired(_l("Say what is to be done.")), Length(max=300)],
    )
    assignee = SelectField(
        _l("Who"), coerce=int, validators=[InputRequired(_l("Choose an active user."))]
    )
    due_on = DateField(_l("Due date"), validators=[Optional()])

    def __init__(self, *args, assignees=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.assignee.choices = list(assignees)
