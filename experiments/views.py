"""Experiments pages (能力实验沙盒): the catalogue of experiments and metrics, the
design form, lifecycle, live tracking, results with the decision and action items,
the printable report, bulk assignment, the power calculator, event imports and
write keys."""

import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import format_decimal, format_percent, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import SelectChoice

from experiments import attribution as attribution_service
from experiments import bp, ingest, services, stats
from experiments import results as results_service
from experiments import segments as segments_service
from experiments.csvfiles import read_csv
from experiments.forms import (
    AGGREGATE_LABELS,
    CORRECTION_LABELS,
    DECISION_HINTS,
    DECISION_LABELS,
    DIRECTION_LABELS,
    KIND_LABELS,
    ROLE_LABELS,
    STATUS_LABELS,
    UNIT_LABELS,
    ActionItemForm,
    AnalysisForm,
    AssignForm,
    DecisionForm,
    EventImportForm,
    ExperimentForm,
    ExperimentNamesForm,
    MetricForm,
    PowerForm,
    TransitionForm,
    WriteKeyForm,
)
from experiments.models import (
    EventImport,
    Experiment,
    ExperimentDecision,
    ExperimentStatus,
    Metric,
    MetricRole,
)
from proving_ground.access import ANY_ROLE, Role, roles_required
from proving_ground.actions import services as action_services
from proving_ground.auth import services as auth_services
from proving_ground.auth.forms import ConfirmForm
from proving_ground.auth.models import ApiToken, User
from proving_ground.db import db, writes_on_read
from proving_ground.i18n import current_language
from proving_ground.validation import Invalid

DESIGNERS = (Role.MANAGER, Role.ADMIN)
ONE_YEAR = 365 * 24 * 3600
ASSETS = Path(__file__).parent / "static" / "experiments"
#: Lifecycle moves offered as buttons; services.transition decides what is allowed.
ACTIONS = ("start", "pause", "stop", "archive", "restart")
RESTARTABLE = services.RESTARTABLE
#: Actual and planned shares further apart than this (0.05: 5 points) are flagged.
SHARE_TOLERANCE = 0.05


# --- helpers ---------------------------------------------------------------------


@bp.context_processor
def pillar_globals() -> dict[str, Any]:
    return {
        "status_label": lambda status: STATUS_LABELS.get(status, status),
        "unit_label": lambda unit: UNIT_LABELS.get(unit, unit),
        "kind_label": lambda kind: KIND_LABELS.get(kind, kind),
        "aggregate_label": lambda value: AGGREGATE_LABELS.get(value, value),
        "direction_label": lambda value: DIRECTION_LABELS.get(value, value),
        "decision_label": lambda value: DECISION_LABELS.get(value, value),
        "role_labels": ROLE_LABELS,
        "metric_language": _metric_language(),
        "can_design": current_user.is_authenticated
        and current_user.has_any_role(DESIGNERS),
        "asset_url": _asset_url,
    }


def _metric_language() -> str:
    """The language argument of Metric.name(): ``en`` or ``zh``."""
    return "en" if get_locale().language == "en" else "zh"


def _asset_url(filename: str) -> str:
    """The URL of a pillar asset, versioned by its modification time."""
    version = int((ASSETS / filename).stat().st_mtime)
    return url_for("experiments.asset", filename=filename, v=version)


def _experiment_or_404(key: str) -> Experiment:
    experiment = services.get_experiment(key)
    if experiment is None:
        abort(404)
    return experiment


def _may_change(experiment: Experiment) -> bool:
    return current_user.has_any_role(DESIGNERS) and (
        experiment.owner_id == current_user.id or current_user.has_role(Role.ADMIN)
    )


def _owned(experiment: Experiment) -> Experiment:
    """Only the owner or an administrator changes an experiment."""
    if not _may_change(experiment):
        abort(403)
    return experiment


def _show_errors(form, exc: Invalid, target: Callable[[str], Any]) -> None:
    """Put each message of ``exc`` next to its form field; ``target`` maps a service
    field name to a form field, a list of messages, or None (then it is flashed)."""
    unplaced = False
    for name, messages in exc.fields.items():
        where = target(name)
        if where is None:
            unplaced = True
            for message in messages:
                flash(message, "error")
        elif isinstance(where, list):
            where.extend(m for m in messages if m not in where)
        else:
            where.errors = [*where.errors, *messages]
    if unplaced and exc.message not in [m for ms in exc.fields.values() for m in ms]:
        flash(exc.message, "error")


def _field_target(form, names: Mapping[str, str]) -> Callable[[str], Any]:
    def target(name: str):
        field_name = names.get(name, name)
        return next((field for field in form if field.name == field_name), None)

    return target


def _number(value: float | None) -> float | int | None:
    """A value for a form field: whole numbers without a trailing .0."""
    if value is None:
        return None
    value = round(value, 6)
    return int(value) if float(value).is_integer() else value


def _csv_response(text: str, filename: str) -> Response:
    """CSV for download; the BOM lets Excel on Chinese Windows read UTF-8."""
    return Response(
        "\ufeff" + text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- assets ----------------------------------------------------------------------


@bp.route("/assets/<path:filename>")
@roles_required(ANY_ROLE)
def asset(filename: str):
    """The pillar's stylesheets and scripts (every page here needs a sign-in)."""
    return send_from_directory(ASSETS, filename, max_age=ONE_YEAR)


# --- experiments -----------------------------------------------------------------


@bp.route("/")
@roles_required(ANY_ROLE)
def index():
    status = request.args.get("status", "")
    if status not in {s.value for s in ExperimentStatus}:
        status = ""
    owner = "mine" if request.args.get("owner") == "mine" else ""
    q = request.args.get("q", "").strip()
    stmt = services.list_experiments(
        status=status or None,
        owner_id=current_user.id if owner else None,
        q=q or None,
    )
    page = db.paginate(stmt, per_page=25)
    return render_template(
        "experiments/index.html",
        page=page,
        filters={"status": status, "owner": owner, "q": q},
        statuses=list(ExperimentStatus),
        planned_end=services.planned_end,
    )


@bp.route("/<key>")
@roles_required(ANY_ROLE)
def detail(key: str):
    experiment = _experiment_or_404(key)
    actions = [
        action
        for action, (sources, _target) in services.TRANSITIONS.items()
        if experiment.status in sources
    ]
    if experiment.status in RESTARTABLE:
        actions.append("restart")
    return render_template(
        "experiments/detail.html",
        experiment=experiment,
        checklist=services.launch_checklist(experiment),
        actions=actions if _may_change(experiment) else [],
        may_change=_may_change(experiment),
        transition_form=TransitionForm(),
        planned_end=services.planned_end(experiment),
        roles=list(MetricRole),
        decisions=_decisions(experiment),
    )


def _metric_choices() -> list[SelectChoice]:
    language = _metric_language()
    return [
        SelectChoice(m.key, f"{m.name(language)} · {m.key}")
        for m in db.session.scalars(services.list_metrics())
    ]


def _new_design() -> dict[str, Any]:
    return {
        "variants": [
            {"key": "control", "name": _("Control"), "share": 50},
            {"key": "treatment", "name": _("Treatment"), "share": 50},
        ],
        "control": "0",
    }


def _design_of(experiment: Experiment) -> dict[str, Any]:
    """The experiment as form data."""
    control = next((i for i, v in enumerate(experiment.variants) if v.is_control), 0)
    return {
        "name": experiment.name,
        "team": experiment.team,
        "hypothesis_if": experiment.hypothesis_if,
        "hypothesis_then": experiment.hypothesis_then,
        "hypothesis_because": experiment.hypothesis_because,
        "unit_type": experiment.unit_type,
        "randomisation": "cluster" if experiment.cluster_attribute else "unit",
        "cluster_attribute": experiment.cluster_attribute,
        "variants": [
            {
                "key": v.key,
                "name": v.name,
                "description": v.description,
                "share": _number(v.weight * 100),
            }
            for v in experiment.variants
        ],
        "control": str(control),
        **{
            f"{role.value}_metrics": [m.key for m in experiment.metrics(role)]
            for role in MetricRole
        },
        "alpha": experiment.alpha,
        "power": experiment.power,
        "mde_percent": _number(experiment.mde * 100)
        if experiment.mde is not None
        else None,
        "planned_units": experiment.planned_units,
        "sequential": experiment.sequential,
        "cuped": experiment.cuped,
        "planned_duration_days": experiment.planned_duration_days,
        "success_criteria": experiment.success_criteria,
        "early_stop_criteria": experiment.early_stop_criteria,
    }


def _design_body(form: ExperimentForm) -> dict[str, Any]:
    """The API-shaped body of the services from the form."""
    mde = form.mde_percent.data
    body = {
        "name": form.name.data,
        "team": form.team.data,
        "hypothesis": {
            "if": form.hypothesis_if.data,
            "then": form.hypothesis_then.data,
            "because": form.hypothesis_because.data,
        },
        "unit_type": form.unit_type.data,
        "randomisation": form.randomisation.data,
        "cluster_attribute": (form.cluster_attribute.data or "").strip() or None,
        "variants": [
            {
                "key": (row.form.key.data or "").strip(),
                "name": (row.form.name.data or "").strip()
                or (row.form.key.data or "").strip(),
                "description": row.form.description.data or "",
                "weight": row.form.share.data / 100,
                "control": str(index) == form.control.data,
            }
            for index, row in enumerate(form.variants)
        ],
        **{
            f"{role.value}_metrics": list(form[f"{role.value}_metrics"].data or [])
            for role in MetricRole
        },
        "analysis": {
            "alpha": form.alpha.data,
            "power": form.power.data,
            "mde": mde / 100 if mde is not None else None,
            "planned_units": form.planned_units.data,
            "sequential": bool(form.sequential.data),
            "cuped": bool(form.cuped.data),
        },
        "planned_duration_days": form.planned_duration_days.data,
        "decision_criteria": {
            "success": form.success_criteria.data,
            "early_stop": form.early_stop_criteria.data,
        },
    }
    if "key" in form:
        body["key"] = (form.key.data or "").strip()
    return body


#: Service field names → form field names, where they differ.
DESIGN_FIELDS = {
    "hypothesis": "hypothesis_if",
    "analysis.alpha": "alpha",
    "analysis.power": "power",
    "analysis.mde": "mde_percent",
    "analysis.planned_units": "planned_units",
    "mde": "mde_percent",
    "analysis.sequential": "sequential",
    "analysis.cuped": "cuped",
    "decision_criteria": "success_criteria",
    "metric_links": "primary_metrics",
}
VARIANT_FIELD = re.compile(r"^variants\.(\d+)(?:\.(\w+))?$")


def _design_target(form: ExperimentForm) -> Callable[[str], Any]:
    by_name = _field_target(form, DESIGN_FIELDS)

    def target(name: str):
        if name in ("variants", "analysis"):
            return form.variant_errors if name == "variants" else None
        match = VARIANT_FIELD.match(name)
        if match:
            index, part = int(match.group(1)), match.group(2)
            if index < len(form.variants) and part in ("key", "name", "weight"):
                row = form.variants[index].form
                return row.share if part == "weight" else row[part]
            return form.variant_errors
        return by_name(name)

    return target


def _variant_rows_changed(form: ExperimentForm) -> bool:
    """Handle the add/remove variant buttons: True when the form is to be shown
    again with one row more or less (nothing is saved)."""
    if form.add_variant.data and len(form.variants) < form.variants.max_entries:
        form.variants.append_entry({"share": None})
    elif form.remove_variant.data and len(form.variants) > form.variants.min_entries:
        form.variants.pop_entry()
    elif not (form.add_variant.data or form.remove_variant.data):
        return False
    form.sync_control_choices()
    if form.control.data not in {choice.value for choice in form.control.choices}:
        form.control.data = "0"
    return True


def _render_design(form, experiment=None):
    return render_template(
        "experiments/form.html",
        form=form,
        experiment=experiment,
    )


@bp.route("/new", methods=["GET", "POST"])
@roles_required(DESIGNERS)
def create():
    form = ExperimentForm(
        data=_new_design() if request.method == "GET" else None,
        metric_choices=_metric_choices(),
    )
    if request.method == "POST" and _variant_rows_changed(form):
        return _render_design(form)
    if form.validate_on_submit():
        try:
            experiment = services.create_experiment(
                _design_body(form), actor=current_user
            )
        except Invalid as exc:
            _show_errors(form, exc, _design_target(form))
        else:
            flash(
                _(
                    "The experiment “%(name)s” is saved as a draft.",
                    name=experiment.name,
                ),
                "success",
            )
            return redirect(url_for("experiments.detail", key=experiment.key))
    return _render_design(form)


@bp.route("/<key>/edit", methods=["GET", "POST"])
@roles_required(DESIGNERS)
def edit(key: str):
    experiment = _owned(_experiment_or_404(key))
    if experiment.status in services.LOCKED:
        return _edit_locked(experiment)
    form = ExperimentForm(
        data=_design_of(experiment) if request.method == "GET" else None,
        metric_choices=_metric_choices(),
    )
    del form.key
    if request.method == "POST" and _variant_rows_changed(form):
        return _render_design(form, experiment)
    if form.validate_on_submit():
        try:
            services.update_experiment(
                experiment, _design_body(form), actor=current_user
            )
        except Invalid as exc:
            _show_errors(form, exc, _design_target(form))
        else:
            flash(_("The design is saved."), "success")
            return redirect(url_for("experiments.detail", key=experiment.key))
    return _render_design(form, experiment)


def _edit_locked(experiment: Experiment):
    """Once started, only the name and team may change."""
    form = ExperimentNamesForm(obj=experiment)
    if form.validate_on_submit():
        try:
            services.update_experiment(
                experiment,
                {"name": form.name.data, "team": form.team.data},
                actor=current_user,
            )
        except Invalid as exc:
            _show_errors(form, exc, _field_target(form, {}))
        else:
            flash(_("The name and team are saved."), "success")
            return redirect(url_for("experiments.detail", key=experiment.key))
    return render_template(
        "experiments/edit_locked.html",
        form=form,
        experiment=experiment,
        always_editable=services.ALWAYS_EDITABLE,
    )


@bp.route("/<key>/<action>", methods=["POST"])
@roles_required(DESIGNERS)
def transition(key: str, action: str):
    if action not in ACTIONS:
        abort(404)
    experiment = _owned(_experiment_or_404(key))
    form = TransitionForm()
    reason = (form.reason.data or "").strip()[:1000]
    try:
        services.transition(experiment, action, actor=current_user, reason=reason)
    except Invalid as exc:
        missing = [
            message
            for name, messages in exc.fields.items()
            if name not in ("status", "action", "reason")
            for message in messages
        ]
        if missing:
            flash(
                _(
                    "%(message)s Still to do: %(items)s.",
                    message=exc.message,
                    items="; ".join(missing),
                ),
                "error",
            )
        else:
            flash(exc.message, "error")
    else:
        done = {
            "start": _("The experiment is running."),
            "pause": _("The experiment is paused: no new units are assigned."),
            "stop": _("The experiment is stopped: it takes no new exposures."),
            "archive": _("The experiment is archived."),
            "restart": _(
                "The experiment is back to draft for run %(run)d. Exposures of "
                "earlier runs are kept but not analysed.",
                run=experiment.run,
            ),
        }
        flash(done[action], "success")
    return redirect(url_for("experiments.detail", key=experiment.key))


# --- tracking and assignment --------------------------------------------------------


def _share_rows(experiment: Experiment, summary) -> list[dict[str, Any]]:
    exposures = sum(summary.exposures.values())
    rows = []
    for variant in experiment.variants:
        count = summary.exposures.get(variant.key, 0)
        actual = count / exposures if exposures else None
        rows.append(
            {
                "variant": variant,
                "exposures": count,
                "planned": variant.weight,
                "actual": actual,
                "deviates": actual is not None
                and abs(actual - variant.weight) > SHARE_TOLERANCE,
                "points": f"{(actual - variant.weight) * 100:+.1f}"
                if actual is not None
                else "",
            }
        )
    return rows


def _cumulative_series(experiment: Experiment, summary) -> dict[str, Any]:
    """Cumulative exposures per variant and day, for the chart."""
    days = sorted({day for day, _variant, _n in summary.daily})
    daily = {(day, variant): n for day, variant, n in summary.daily}
    series = []
    for variant in experiment.variants:
        total, values = 0, []
        for day in days:
            total += daily.get((day, variant.key), 0)
            values.append(total)
        series.append(
            {
                "key": variant.key,
                "name": variant.name,
                "control": variant.is_control,
                "values": values,
            }
        )
    return {"days": days, "series": series}


@bp.route("/<key>/tracking")
@roles_required(ANY_ROLE)
def tracking(key: str):
    experiment = _experiment_or_404(key)
    summary = services.tracking_summary(experiment)
    return render_template(
        "experiments/tracking.html",
        experiment=experiment,
        summary=summary,
        rows=_share_rows(experiment, summary),
        chart=_cumulative_series(experiment, summary),
        tolerance=SHARE_TOLERANCE,
    )


@bp.route("/<key>/assign", methods=["GET", "POST"])
@roles_required(DESIGNERS)
def assign(key: str):
    experiment = _experiment_or_404(key)
    form = AssignForm()
    if form.validate_on_submit():
        try:
            frame = services.assign_units(experiment, read_csv(form.file.data.read()))
        except Invalid as exc:
            form.file.errors.append(exc.message)
        except ValueError:
            form.file.errors.append(_("The file is not a readable CSV file."))
        else:
            failed = int((frame["variant"] == "").sum())
            counts = {
                "rows": len(frame) - failed,
                "file": form.file.data.filename,
                "name": experiment.name,
                "failed": failed,
            }
            if failed:
                flash(
                    _(
                        "%(rows)d units of “%(file)s” assigned for %(name)s; "
                        "%(failed)d rows could not be assigned (see their error "
                        "column).",
                        **counts,
                    ),
                    "warning",
                )
            else:
                flash(
                    _("%(rows)d units of “%(file)s” assigned for %(name)s.", **counts),
                    "success",
                )
            return _csv_response(
                frame.to_csv(index=False), f"{experiment.key}-assignments.csv"
            )
    return render_template("experiments/assign.html", experiment=experiment, form=form)


# --- results, decision, action items, report -----------------------------------------

#: The analysis settings' problems, as the results service names the query
#: arguments (its own messages are English only).
OPTION_ERRORS = {
    "cuped": _l("Choose on or off."),
    "sequential": _l("Choose on or off."),
    "sequential_tuning": _l("A positive whole number of units."),
    "alpha": _l("A number between 0 and 0.5, e.g. 0.05."),
    "correction": _l("Choose Holm, Benjamini–Hochberg or none."),
}
#: The pre-registered rules of results.recommend, in the order they are tried.
RULES = {
    "srm": _l("Sample ratio mismatch → iterate: fix the assignment, then restart."),
    "guardrail_harmed": _l("A guardrail metric significantly harmed → abandon."),
    "primary_better": _l(
        "A primary metric significantly better, no guardrail harmed → adopt."
    ),
    "primary_worse": _l("A primary metric significantly worse → abandon."),
    "before_planned_end": _l(
        "Nothing significant before the planned end → keep running."
    ),
    "no_effect": _l("Nothing significant after the planned end → iterate."),
}
#: Lifts and shares as people read them (Babel patterns).
PERCENT = "#,##0.0%"
SIGNED_PERCENT = "+#,##0.0%;-#,##0.0%"


def _percent(value: float, *, signed: bool = False) -> str:
    return format_percent(value, SIGNED_PERCENT if signed else PERCENT)


def _level(alpha: float) -> str:
    """The confidence level 1 − alpha as a percentage, e.g. 95%."""
    return format_percent(1 - alpha, "#,##0.##%")


def _analysis_form(experiment: Experiment) -> AnalysisForm:
    """The what-if settings: the query arguments, else the experiment's own."""
    defaults = {
        "cuped": "1" if experiment.cuped else "0",
        "sequential": "1" if experiment.sequential else "0",
        "alpha": str(_number(experiment.alpha)),
        "correction": "holm",
    }
    form = AnalysisForm(formdata=request.args or None, data=defaults)
    #: Set when a setting is refused and the experiment's own are used instead.
    form.invalid = False
    return form


def _options(experiment: Experiment, form: AnalysisForm) -> results_service.Options:
    """The options of the query arguments. On a problem its message goes under the
    field and the experiment's own settings are used."""
    try:
        return results_service.Options.of(experiment, request.args)
    except Invalid as exc:
        for name, messages in exc.fields.items():
            if name in form:
                form[name].errors = [str(OPTION_ERRORS.get(name, messages[0]))]
            else:
                flash(messages[0], "error")
        form.invalid = True
        return results_service.Options.of(experiment)


def _option_args(options: results_service.Options) -> dict[str, Any]:
    """Query arguments that reproduce ``options`` (for the CSV and report links)."""
    args = {
        "cuped": int(options.cuped),
        "sequential": int(options.sequential),
        "alpha": _number(options.alpha),
        "correction": options.correction,
    }
    if options.tuning:
        args["sequential_tuning"] = options.tuning
    return args


def _headline(row: dict[str, Any], level: str) -> str:
    """One sentence on a treatment's relative lift, e.g. "B raised Converted by
    12% (95% CI 3% to 21%)"; significance by the adjusted p-value."""
    names = {"variant": row["variant_name"], "metric": row["metric_name"]}
    relative = row["relative"]
    if not row["has_lift"]:
        return _(
            "Not enough data yet to compare %(variant)s with the control on "
            "%(metric)s.",
            **names,
        )
    estimate, low, high = relative["estimate"], relative["ci_low"], relative["ci_high"]
    if row["sign"] > 0:
        return _(
            "%(variant)s raised %(metric)s by %(lift)s (%(level)s CI %(low)s to "
            "%(high)s).",
            lift=_percent(estimate),
            low=_percent(low),
            high=_percent(high),
            level=level,
            **names,
        )
    if row["sign"] < 0:
        return _(
            "%(variant)s lowered %(metric)s by %(lift)s (%(level)s CI %(low)s to "
            "%(high)s).",
            lift=_percent(-estimate),
            low=_percent(-high),
            high=_percent(-low),
            level=level,
            **names,
        )
    figures = {
        "lift": _percent(estimate, signed=True),
        "low": _percent(low, signed=True),
        "high": _percent(high, signed=True),
        "level": level,
    }
    if low > 0 or high < 0:
        return _(
            "%(variant)s against the control on %(metric)s: %(lift)s (%(level)s CI "
            "%(low)s to %(high)s), not significant after the correction for "
            "multiple testing.",
            **figures,
            **names,
        )
    return _(
        "No significant difference in %(metric)s for %(variant)s: %(lift)s "
        "(%(level)s CI %(low)s to %(high)s).",
        **figures,
        **names,
    )


def _comparison_rows(experiment: Experiment, payload: dict) -> list[dict[str, Any]]:
    """Per metric and treatment (payload order: primary, secondary, guardrail):
    names in the reader's language, the payload entry, whether it is significant
    (adjusted p < alpha, as the recommendation reads it) and whether the change
    goes the metric's desired way (``verdict``: better, worse, neutral, unknown)."""
    language = _metric_language()
    locale = current_language()
    alpha = payload["options"]["alpha"]
    level = _level(alpha)
    variant_names = {v.key: v.name for v in experiment.variants}
    rows = []
    for metric in payload["metrics"]:
        wanted = 1 if metric["direction"] == "increase" else -1
        for entry in metric["variants"][1:]:
            relative = entry.get("relative") or {}
            has_lift = all(
                relative.get(k) is not None for k in ("estimate", "ci_low", "ci_high")
            )
            p = entry.get("adjusted_p_value")
            absolute = entry.get("absolute") or {}
            sign = 0
            if p is not None and p < alpha and absolute.get("estimate") is not None:
                sign = 1 if absolute["estimate"] > 0 else -1
            if not has_lift:
                verdict = "unknown"
            elif sign == wanted:
                verdict = "better"
            elif sign:
                verdict = "worse"
            else:
                verdict = "neutral"
            row = {
                "metric": metric["metric"],
                "metric_name": metric["name"][language],
                "role": metric["role"],
                "variant": entry["variant"],
                "variant_name": variant_names.get(entry["variant"], entry["variant"]),
                "relative": relative,
                "has_lift": has_lift,
                "sign": sign,
                "verdict": verdict,
                "warnings": [
                    stats.messages.message(code, locale)
                    for code in entry.get("warnings") or []
                ],
            }
            row["headline"] = _headline(row, level)
            rows.append(row)
    return rows


def _reason(reason: dict, names: dict, experiment: Experiment) -> str:
    """A reason of the recommendation in plain words."""
    rule = reason.get("rule")
    found = {
        "metric": names["metrics"].get(reason.get("metric"), reason.get("metric")),
        "variant": names["variants"].get(reason.get("variant"), reason.get("variant")),
    }
    if rule == "srm":
        return _(
            "The split of units differs from the planned split: the assignment or "
            "the tracking is broken. Fix it and restart before trusting any result."
        )
    if rule == "guardrail_harmed":
        return _(
            "The guardrail %(metric)s got significantly worse with %(variant)s.",
            **found,
        )
    if rule == "primary_better":
        return _(
            "The primary metric %(metric)s improved significantly with %(variant)s.",
            **found,
        )
    if rule == "primary_worse":
        return _(
            "The primary metric %(metric)s got significantly worse with %(variant)s.",
            **found,
        )
    if rule == "before_planned_end":
        return _(
            "Nothing is significant yet, after %(days)s of %(planned)d planned days.",
            days=format_decimal(reason.get("days_run", 0), "#,##0.#"),
            planned=experiment.planned_duration_days,
        )
    return _(
        "Nothing is significant and the planned duration is over: no effect of the "
        "planned size was found."
    )


def _recommendation(experiment: Experiment, payload: dict) -> dict[str, Any]:
    """The recommendation in plain words, with the rule that fired."""
    recommendation = payload["recommendation"]
    language = _metric_language()
    names = {
        "metrics": {m["metric"]: m["name"][language] for m in payload["metrics"]},
        "variants": {v.key: v.name for v in experiment.variants},
    }
    reasons = [_reason(r, names, experiment) for r in recommendation["reasons"]]
    label = DECISION_LABELS.get(recommendation["decision"], recommendation["decision"])
    rule = recommendation["rule"]
    return {
        "decision": recommendation["decision"],
        "label": label,
        "rule": rule,
        "rule_number": list(RULES).index(rule) + 1 if rule in RULES else None,
        "rule_text": RULES.get(rule, rule),
        "reasons": reasons,
        "rules": [
            {"key": key, "text": text, "fired": key == recommendation["rule"]}
            for key, text in RULES.items()
        ],
        "summary": " ".join(
            [_("Recommendation: %(decision)s.", decision=label), *reasons]
        ),
    }


def _banners(payload: dict) -> list[dict[str, str]]:
    """Warnings above the results: sample, multiple exposures, zero control mean
    (the SRM has its own, stronger banner)."""
    locale = current_language()
    banners = []
    if stats.messages.LOW_SAMPLE in payload["warnings"]:
        banners.append(
            {
                "title": _("Low sample"),
                "text": stats.messages.message(stats.messages.LOW_SAMPLE, locale),
                "detail": ngettext(
                    "A variant has fewer than %(num)d units.",
                    "A variant has fewer than %(num)d units.",
                    results_service.LOW_SAMPLE,
                ),
            }
        )
    multiple = payload["units"]["multiple_exposures"]
    if multiple:
        banners.append(
            {
                "title": _("Multiple exposures"),
                "text": stats.messages.message(
                    stats.messages.MULTIPLE_EXPOSURES, locale
                ),
                "detail": ngettext(
                    "%(num)d unit met more than one variant; it is left out of the "
                    "analysis.",
                    "%(num)d units met more than one variant; they are left out of "
                    "the analysis.",
                    multiple,
                ),
            }
        )
    language = _metric_language()
    zero = [
        m["name"][language]
        for m in payload["metrics"]
        if any(
            stats.messages.ZERO_CONTROL_MEAN in (e.get("warnings") or [])
            for e in m["variants"][1:]
        )
    ]
    if zero:
        banners.append(
            {
                "title": _("Zero control mean"),
                "text": stats.messages.message(
                    stats.messages.ZERO_CONTROL_MEAN, locale
                ),
                "detail": _("Metrics: %(metrics)s", metrics=", ".join(zero)),
            }
        )
    return banners


def _srm_rows(experiment: Experiment, payload: dict) -> list[dict[str, Any]]:
    srm, units = payload["srm"], payload["units"]["per_variant"]
    total = sum(units.values())
    return [
        {
            "variant": v,
            "units": units.get(v.key, 0),
            "expected": (srm.get("expected") or {}).get(v.key),
            "share": units.get(v.key, 0) / total if total else None,
            "planned": v.weight,
        }
        for v in experiment.variants
    ]


def _forest_chart(payload: dict, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The forest plot's data: relative lifts (%) with their intervals, by role."""
    items = []
    several = len({r["variant"] for r in rows}) > 1
    for role in MetricRole:
        group = [r for r in rows if r["role"] == role and r["has_lift"]]
        if group:
            items.append({"header": str(ROLE_LABELS[role])})
        for r in group:
            relative = r["relative"]
            items.append(
                {
                    "label": f"{r['metric_name']} · {r['variant_name']}"
                    if several
                    else r["metric_name"],
                    "estimate": relative["estimate"] * 100,
                    "low": relative["ci_low"] * 100,
                    "high": relative["ci_high"] * 100,
                    "verdict": r["verdict"],
                }
            )
    level = _level(payload["options"]["alpha"])
    return {
        "items": items,
        "legend": {
            "better": _("Significantly better"),
            "worse": _("Significantly worse"),
            "neutral": _("Not significant"),
        },
        "xTitle": _("Relative lift, %% (%(level)s confidence interval)", level=level),
        "xTitleShort": _("Relative lift"),
    }


def _cumulative_charts(
    experiment: Experiment, options: results_service.Options
) -> list[dict[str, Any]]:
    """Cumulative relative lift (%) by exposure day, per primary metric."""
    language = _metric_language()
    names = {v.key: v.name for v in experiment.variants}
    charts = []
    for metric in experiment.metrics(MetricRole.PRIMARY):
        series = results_service.cumulative_lift(experiment, metric, options)
        charts.append(
            {
                "id": f"lift-{metric.key}",
                "title": metric.name(language),
                "series": [
                    {
                        "name": names.get(variant, variant),
                        "days": [p["day"] for p in points],
                        "estimate": [_pct_or_none(p["estimate"]) for p in points],
                        "low": [_pct_or_none(p["ci_low"]) for p in points],
                        "high": [_pct_or_none(p["ci_high"]) for p in points],
                        "units": [p["units"] for p in points],
                    }
                    for variant, points in series.items()
                    if points
                ],
            }
        )
    return charts


def _pct_or_none(value: float | None) -> float | None:
    return value * 100 if value is not None else None


def _decisions(experiment: Experiment) -> list[ExperimentDecision]:
    """The experiment's recorded decisions, newest first."""
    return list(
        db.session.scalars(
            sa.select(ExperimentDecision)
            .where(ExperimentDecision.experiment_id == experiment.id)
            .order_by(
                ExperimentDecision.decided_at.desc(), ExperimentDecision.id.desc()
            )
        )
    )


def _active_users() -> list[SelectChoice]:
    users = db.session.scalars(
        sa.select(User).where(User.active.is_(True)).order_by(User.display_name)
    )
    return [SelectChoice(u.id, f"{u.display_name} · {u.email}") for u in users]


def _results_context(
    experiment: Experiment, options: results_service.Options
) -> dict[str, Any]:
    """What the results and report pages show of the payload."""
    try:
        payload = results_service.results(experiment, options)
    except Invalid as exc:
        return {"payload": None, "problem": exc.message}
    rows = _comparison_rows(experiment, payload)
    return {
        "payload": payload,
        "computed_at": results_service.as_of(payload),
        "level": _level(payload["options"]["alpha"]),
        "rows": rows,
        "rows_by_metric": {(r["metric"], r["variant"]): r for r in rows},
        "headlines": [r for r in rows if r["role"] == MetricRole.PRIMARY],
        "recommendation": _recommendation(experiment, payload),
        "banners": _banners(payload),
        "srm_rows": _srm_rows(experiment, payload),
        "decisions": _decisions(experiment),
        "correction_label": CORRECTION_LABELS.get(
            payload["options"]["correction"], payload["options"]["correction"]
        ),
        "srm_message": stats.messages.message(stats.messages.SRM, current_language()),
        "option_args": _option_args(options),
    }


#: Names of common dimensions (unit attributes) in the reader's language.
DIMENSION_LABELS = {
    "region": _l("Region"),
    "industry": _l("Industry"),
    "customer_type": _l("Customer type"),
    "rep_id": _l("Rep"),
    "rep_name": _l("Rep name"),
    "deal_size_band": _l("Deal size band"),
}
SEGMENT_KIND_LABELS = {"other": _l("(other)"), "none": _l("(none)")}


def _dimension_label(dimension: segments_service.Dimension) -> str:
    if dimension.source == "event":
        return _("Event property: %(name)s", name=dimension.key)
    return str(DIMENSION_LABELS.get(dimension.key, dimension.key))


def _verdict(has_lift: bool, sign: int, wanted: int) -> str:
    """better, worse, neutral or unknown, as _comparison_rows reads a lift."""
    if not has_lift:
        return "unknown"
    if not sign:
        return "neutral"
    return "better" if sign == wanted else "worse"


def _segment_rows(experiment: Experiment, payload: dict) -> list[dict[str, Any]]:
    """Per metric (payload order) and treatment: one row per segment with its
    units, relative lift and interval, p corrected across segments, verdict
    (as _comparison_rows reads it) and SRM flag."""
    language = _metric_language()
    names = {v.key: v.name for v in experiment.variants}
    alpha = payload["segments"][0]["results"]["options"]["alpha"]
    blocks: dict[tuple[str, str], dict[str, Any]] = {}
    for segment in payload["segments"]:
        level = str(SEGMENT_KIND_LABELS.get(segment["kind"], segment["level"]))
        for metric in segment["results"]["metrics"]:
            wanted = 1 if metric["direction"] == "increase" else -1
            for entry in metric["variants"][1:]:
                block = blocks.setdefault(
                    (metric["metric"], entry["variant"]),
                    {
                        "metric_name": metric["name"][language],
                        "role": metric["role"],
                        "kind": metric["kind"],
                        "variant_name": names.get(entry["variant"], entry["variant"]),
                        "rows": [],
                    },
                )
                relative = entry.get("relative") or {}
                absolute = entry.get("absolute") or {}
                p = entry.get("adjusted_p_value")
                sign = 0
                if p is not None and p < alpha and absolute.get("estimate") is not None:
                    sign = 1 if absolute["estimate"] > 0 else -1
                has_lift = relative.get("estimate") is not None
                block["rows"].append(
                    {
                        "level": level,
                        "units": segment["units"],
                        "relative": relative if has_lift else None,
                        "absolute": absolute or None,
                        "p_value": absolute.get("p_value"),
                        "adjusted_p_value": p,
                        "verdict": _verdict(has_lift, sign, wanted),
                        "srm": segment["srm"].get("flag"),
                        "srm_p": segment["srm"].get("p_value"),
                    }
                )
    return list(blocks.values())


def _segments_context(
    experiment: Experiment, options: results_service.Options
) -> dict[str, Any]:
    """The segments section: the dimensions offered and, when the query names
    one, its segments per metric, or the problem with the name."""
    selected = request.args.get("dimension")
    context: dict[str, Any] = {
        "dimensions": [
            {"name": d.name, "label": _dimension_label(d)}
            for d in segments_service.dimensions(experiment)
        ],
        "dimension": selected,
        "segments": None,
        "segments_problem": None,
    }
    if selected is None:
        return context
    try:
        payload = segments_service.segment_results(experiment, options, selected)
    except Invalid as exc:
        context["segments_problem"] = exc.message
        return context
    locale = current_language()
    dimension = segments_service.Dimension(
        payload["source"],
        payload["dimension"].removeprefix(segments_service.EVENT_PREFIX),
    )
    context["segments"] = {
        "payload": payload,
        "label": _dimension_label(dimension),
        "warning": stats.messages.message(payload["warning"], locale),
        "pre_registered": payload["warning"] == stats.messages.SEGMENTS_PRE_REGISTERED,
        "notes": [stats.messages.message(code, locale) for code in payload["notes"]],
        "blocks": _segment_rows(experiment, payload) if payload["segments"] else [],
        "correction_label": CORRECTION_LABELS.get(
            payload["correction"], payload["correction"]
        ),
    }
    return context


def _render_results(
    experiment: Experiment,
    *,
    decision_form: DecisionForm | None = None,
    action_form: ActionItemForm | None = None,
):
    form = _analysis_form(experiment)
    options = _options(experiment, form)
    context = _results_context(experiment, options)
    may_change = _may_change(experiment)
    if may_change and decision_form is None:
        recommendation = context.get("recommendation")
        decision_form = DecisionForm(
            formdata=None,
            data={
                "decision": recommendation["decision"]
                if recommendation and recommendation["decision"] in DECISION_HINTS
                else None,
                "rationale": recommendation["summary"] if recommendation else "",
            },
        )
    if may_change and action_form is None:
        action_form = ActionItemForm(
            formdata=None, data={"assignee": current_user.id}, assignees=_active_users()
        )
    charts = {}
    tab = "attribution" if request.args.get("tab") == "attribution" else "results"
    if tab == "attribution":
        context.update(_attribution_context(experiment))
    elif context["payload"] is not None:
        context.update(_segments_context(experiment, options))
        charts = {
            "forest": _forest_chart(context["payload"], context["rows"]),
            "cumulative": _cumulative_charts(experiment, options),
        }
    return render_template(
        "experiments/results.html",
        experiment=experiment,
        form=form,
        may_change=may_change,
        decision_form=decision_form,
        decision_hints=DECISION_HINTS,
        action_form=action_form,
        action_items=action_services.items_from(f"experiment:{experiment.key}"),
        charts=charts,
        tab=tab,
        **context,
    )


def _attribution_context(experiment: Experiment) -> dict[str, Any]:
    """The attribution tab: its payload and notes in the reader's language, or
    the problem with the query arguments."""
    language = current_language()
    context: dict[str, Any] = {
        "attribution": None,
        "attribution_problem": None,
        "attribution_metrics": [
            (link.metric.key, link.metric.name(_metric_language()))
            for link in experiment.metric_links
        ],
    }
    try:
        options = attribution_service.Options.of(experiment, request.args)
        payload = attribution_service.attribution(experiment, options)
    except Invalid as exc:
        context["attribution_problem"] = exc.message
        return context
    context["attribution"] = payload
    context["attribution_notes"] = [
        stats.messages.message(code, language) for code in payload["notes"]
    ]
    return context


@bp.route("/<key>/results")
@roles_required(ANY_ROLE)
@writes_on_read
def results(key: str):
    return _render_results(_experiment_or_404(key))


@bp.route("/<key>/results.csv")
@roles_required(ANY_ROLE)
@writes_on_read
def results_csv(key: str):
    """The results as CSV, as the API's results.csv (one row per metric and
    variant; relative values as fractions)."""
    experiment = _experiment_or_404(key)
    try:
        options = results_service.Options.of(experiment, request.args)
        payload = results_service.results(experiment, options)
    except Invalid:
        return redirect(url_for("experiments.results", key=key, **request.args))
    return _csv_response(results_service.as_csv(payload), f"{key}-results.csv")


@bp.route("/<key>/report")
@roles_required(ANY_ROLE)
@writes_on_read
def report(key: str):
    experiment = _experiment_or_404(key)
    form = _analysis_form(experiment)
    options = _options(experiment, form)
    return render_template(
        "experiments/report.html",
        experiment=experiment,
        roles=list(MetricRole),
        planned_end=services.planned_end(experiment),
        **_results_context(experiment, options),
    )


@bp.route("/<key>/decide", methods=["POST"])
@roles_required(DESIGNERS)
def decide(key: str):
    experiment = _owned(_experiment_or_404(key))
    form = DecisionForm()
    if form.validate_on_submit():
        try:
            row = results_service.decide(
                experiment, form.decision.data, form.rationale.data, actor=current_user
            )
        except Invalid as exc:
            if "status" in exc.fields:
                flash(
                    _(
                        "Only a stopped experiment can be decided; this one is "
                        "%(status)s. Stop it on its page first.",
                        status=STATUS_LABELS.get(experiment.status, experiment.status),
                    ),
                    "error",
                )
            else:
                _show_errors(form, exc, _field_target(form, {}))
        else:
            flash(
                _(
                    "Decision recorded: %(decision)s.",
                    decision=DECISION_LABELS[row.decision],
                ),
                "success",
            )
            return redirect(url_for("experiments.results", key=key, _anchor="decision"))
    return _render_results(experiment, decision_form=form)


@bp.route("/<key>/action-items", methods=["POST"])
@roles_required(DESIGNERS)
def create_action_item(key: str):
    experiment = _owned(_experiment_or_404(key))
    form = ActionItemForm(assignees=_active_users())
    if form.validate_on_submit():
        try:
            item = action_services.create_action_item(
                title=form.title.data,
                assignee=db.session.get(User, form.assignee.data),
                due_on=form.due_on.data,
                source=f"experiment:{experiment.key}",
                actor=current_user,
            )
        except Invalid as exc:
            _show_errors(form, exc, _field_target(form, {}))
        else:
            flash(
                _(
                    "Action item added for %(name)s: %(title)s",
                    name=item.assignee.display_name,
                    title=item.title,
                ),
                "success",
            )
            return redirect(
                url_for("experiments.results", key=key, _anchor="action-items")
            )
    return _render_results(experiment, action_form=form)


# --- metrics -----------------------------------------------------------------------


@bp.route("/metrics")
@roles_required(ANY_ROLE)
def metrics():
    page = db.paginate(services.list_metrics(), per_page=50)
    return render_template("experiments/metrics.html", page=page)


def _event_types(text: str | None) -> list[str]:
    return [t for t in re.split(r"[\s,，;；]+", text or "") if t]


def _metric_body(form: MetricForm) -> dict[str, Any]:
    ratio = form.kind.data == "ratio"
    body = {
        "name": {"zh": form.name_zh.data, "en": form.name_en.data},
        "description": {"zh": form.description_zh.data, "en": form.description_en.data},
        "kind": form.kind.data,
        "event_types": _event_types(form.event_types.data),
        "aggregate": form.aggregate.data,
        "denominator": {
            "event_types": _event_types(form.denominator_event_types.data),
            "aggregate": form.denominator_aggregate.data,
        }
        if ratio
        else None,
        "window_days": form.window_days.data,
        "direction": form.direction.data,
        "capping": {"kind": form.cap_kind.data, "value": form.cap_value.data}
        if form.cap_kind.data
        else None,
        "cuped_lookback_days": form.cuped_lookback_days.data,
    }
    if "key" in form:
        body["key"] = (form.key.data or "").strip()
    return body


#: Service field names (API body or model) → metric form field names.
METRIC_FIELDS = {
    "name": "name_zh",
    "name.zh": "name_zh",
    "name.en": "name_en",
    "description": "description_zh",
    "event_type": "event_types",
    "denominator": "denominator_event_types",
    "denominator.event_types": "denominator_event_types",
    "denominator.event_type": "denominator_event_types",
    "denominator.aggregate": "denominator_aggregate",
    "capping": "cap_kind",
    "capping.kind": "cap_kind",
    "capping.value": "cap_value",
}


def _metric_of(metric: Metric) -> dict[str, Any]:
    return {
        "key": metric.key,
        "name_zh": metric.name_zh,
        "name_en": metric.name_en,
        "description_zh": metric.description_zh,
        "description_en": metric.description_en,
        "kind": metric.kind,
        "event_types": ", ".join(metric.event_types),
        "aggregate": metric.aggregate,
        "denominator_event_types": ", ".join(metric.denominator_event_types or []),
        "denominator_aggregate": metric.denominator_aggregate or "count",
        "window_days": metric.window_days,
        "direction": metric.direction,
        "cap_kind": metric.cap_kind or "",
        "cap_value": _number(metric.cap_value),
        "cuped_lookback_days": metric.cuped_lookback_days,
    }


@bp.route("/metrics/new", methods=["GET", "POST"])
@roles_required(DESIGNERS)
def create_metric():
    form = MetricForm()
    if form.validate_on_submit():
        try:
            metric = services.create_metric(_metric_body(form), actor=current_user)
        except Invalid as exc:
            _show_errors(form, exc, _field_target(form, METRIC_FIELDS))
        else:
            flash(_("The metric %(key)s is added.", key=metric.key), "success")
            return redirect(url_for("experiments.metrics"))
    return render_template("experiments/metric_form.html", form=form, metric=None)


@bp.route("/metrics/<key>/edit", methods=["GET", "POST"])
@roles_required(DESIGNERS)
def edit_metric(key: str):
    metric = services.get_metric(key)
    if metric is None:
        abort(404)
    form = MetricForm(data=_metric_of(metric) if request.method == "GET" else None)
    del form.key
    if form.validate_on_submit():
        try:
            services.update_metric(metric, _metric_body(form), actor=current_user)
        except Invalid as exc:
            _show_errors(form, exc, _field_target(form, METRIC_FIELDS))
        else:
            flash(_("The metric %(key)s is saved.", key=metric.key), "success")
            return redirect(url_for("experiments.metrics"))
    return render_template("experiments/metric_form.html", form=form, metric=metric)


# --- power calculator ----------------------------------------------------------------


@bp.route("/power")
@roles_required(ANY_ROLE)
def power():
    form = PowerForm(formdata=request.args or None)
    plan = None
    if "calculate" in request.args and form.validate():
        proportion = form.metric_type.data == "proportion"
        try:
            plan = services.plan_sample_size(
                baseline=form.baseline_rate.data / 100
                if proportion
                else form.baseline_mean.data,
                mde=form.mde.data / 100,
                alpha=form.alpha.data,
                power=form.power.data,
                variants=form.variants.data,
                sd=None if proportion else form.sd.data,
                weekly_units=form.weekly_units.data,
            )
        except Invalid as exc:
            baseline = "baseline_rate" if proportion else "baseline_mean"
            _show_errors(form, exc, _field_target(form, {"baseline": baseline}))
    days = math.ceil(plan.weeks * 7) if plan and plan.weeks is not None else None
    return render_template("experiments/power.html", form=form, plan=plan, days=days)


# --- events ------------------------------------------------------------------------


def _recent_imports() -> list[tuple[EventImport, str | None]]:
    return list(
        db.session.execute(
            sa.select(EventImport, User.display_name)
            .outerjoin(User, User.id == EventImport.created_by_id)
            .order_by(EventImport.created_at.desc(), EventImport.id.desc())
            .limit(10)
        )
    )


@bp.route("/events/import", methods=["GET", "POST"])
@roles_required(DESIGNERS)
def import_events():
    form = EventImportForm()
    job = result = None
    if form.validate_on_submit():
        upload = form.file.data
        try:
            job, result = ingest.import_csv(
                upload.read(),
                filename=upload.filename or "events.csv",
                actor=current_user,
            )
        except ValueError as exc:
            form.file.errors.append(str(exc))
    return render_template(
        "experiments/import.html",
        form=form,
        job=job,
        rejected=result.rejected[:20] if result else [],
        imports=_recent_imports(),
        columns=sorted(ingest.CSV_COLUMNS),
    )


@bp.route("/events/imports/<int:import_id>/errors.csv")
@roles_required(DESIGNERS)
def import_errors(import_id: int):
    job = db.get_or_404(EventImport, import_id)
    return _csv_response(job.error_report, f"import-{job.id}-errors.csv")


# --- write keys --------------------------------------------------------------------


@bp.route("/write-keys", methods=["GET", "POST"])
@roles_required(DESIGNERS)
def write_keys():
    form = WriteKeyForm()
    secret = None
    if form.validate_on_submit():
        try:
            _token, secret = auth_services.create_token(
                current_user._get_current_object(), form.name.data, kind="ingest"
            )
        except auth_services.ServiceError as exc:
            form.name.errors.append(exc.message)
        else:
            form = WriteKeyForm(formdata=None)
    return render_template(
        "experiments/write_keys.html",
        form=form,
        keys=auth_services.list_write_keys(),
        new_secret=secret,
        revoke_form=ConfirmForm(),
    )


@bp.route("/write-keys/<int:key_id>/revoke", methods=["POST"])
@roles_required(DESIGNERS)
def revoke_write_key(key_id: int):
    token = db.session.get(ApiToken, key_id)
    if token is None or token.kind != "ingest":
        abort(404)
    auth_services.revoke_token(token, actor=current_user)
    flash(_("The write key “%(name)s” is revoked.", name=token.name), "success")
    return redirect(url_for("experiments.write_keys"))
