"""Experiment results: sufficient statistics from the database (analysis.py), the
statistics engine (stats/), multiple-testing control, the pre-registered
recommendation and a cache that the next event invalidates.

The payload is the API's shape (see api.py); relative values are fractions.
"""

import csv
import io
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from statistics import NormalDist
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from experiments import analysis, stats
from experiments.models import (
    AnalysisRollup,
    Decision,
    Event,
    Experiment,
    ExperimentDecision,
    ExperimentStatus,
    Exposure,
    ExposureChange,
    Metric,
    MetricKind,
    MetricRole,
    ResultsCache,
)
from proving_ground.audit.services import record
from proving_ground.db import db, utcnow
from proving_ground.signals import experiment_decided
from proving_ground.validation import Invalid, Problems

CORRECTIONS = ("holm", "bh", "none")
#: Fewer units than this in a variant earn a low-sample warning.
LOW_SAMPLE = 100
ROLE_ORDER = {MetricRole.PRIMARY: 0, MetricRole.SECONDARY: 1, MetricRole.GUARDRAIL: 2}


@dataclass(frozen=True)
class Options:
    """How to analyse; defaults come from the experiment's settings."""

    cuped: bool
    sequential: bool
    tuning: int | None
    alpha: float
    correction: str

    @classmethod
    def of(cls, experiment: Experiment, query: Mapping[str, str] | None = None):
        """Options from query arguments (``cuped=0|1``, ``sequential=0|1``,
        ``sequential_tuning=N``, ``alpha``, ``correction``), else the experiment's."""
        query = query or {}
        problems = Problems()

        def flag(name: str, default: bool) -> bool:
            value = query.get(name)
            if value in (None, ""):
                return default
            if value not in ("0", "1", "true", "false"):
                problems.add(name, "Use 0 or 1.")
            return value in ("1", "true")

        tuning = None
        if query.get("sequential_tuning"):
            try:
                tuning = int(query["sequential_tuning"])
                if tuning < 1:
                    raise ValueError
            except ValueError:
                problems.add("sequential_tuning", "A positive whole number of units.")
        alpha = experiment.alpha
        if query.get("alpha"):
            try:
                alpha = float(query["alpha"])
                if not 0 < alpha < 0.5:
                    raise ValueError
            except ValueError:
                problems.add("alpha", "A number between 0 and 0.5.")
        correction = query.get("correction") or "holm"
        if correction not in CORRECTIONS:
            problems.add("correction", "Use holm, bh or none.")
        options = cls(
            cuped=flag("cuped", experiment.cuped),
            sequential=flag("sequential", experiment.sequential),
            tuning=tuning,
            alpha=alpha,
            correction=correction,
        )
        problems.raise_if_any()
        return options

    def key(self) -> str:
        return urlencode(
            {
                "cuped": int(self.cuped),
                "sequential": int(self.sequential),
                "tuning": self.tuning or "",
                "alpha": self.alpha,
                "correction": self.correction,
            }
        )


def data_version(experiment: Experiment) -> str:
    """Changes whenever an event or exposure arrives or the design changes."""
    last_event = db.session.scalar(sa.select(sa.func.max(Event.id))) or 0
    last_exposure = (
        db.session.scalar(
            sa.select(sa.func.max(Exposure.id)).where(
                Exposure.experiment_id == experiment.id
            )
        )
        or 0
    )
    # An exposure moved earlier keeps its id; its ExposureChange row (or, once
    # the analysis has applied it, the rollup's last change) tells.
    change = db.session.scalar(
        sa.select(sa.func.max(ExposureChange.id)).where(
            ExposureChange.experiment_id == experiment.id
        )
    ) or db.session.scalar(
        sa.select(AnalysisRollup.last_change_id).where(
            AnalysisRollup.experiment_id == experiment.id
        )
    )
    updated = experiment.updated_at.isoformat() if experiment.updated_at else ""
    return (
        f"{last_event}:{last_exposure}:{change or 0}:{experiment.run}:"
        f"{experiment.status}:{updated}"
    )


def results(experiment: Experiment, options: Options) -> dict[str, Any]:
    """The experiment's results, from the cache when nothing has changed."""
    if not experiment.variants or experiment.control is None:
        raise Invalid("experiment", "The experiment has no control variant.")
    return cached(experiment, options.key(), lambda: compute(experiment, options))


def cached(
    experiment: Experiment, key: str, compute_payload: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """The payload stored in ResultsCache under ``key`` (at most 200 characters)
    when the experiment's data_version has not changed since, else
    ``compute_payload()``, stored (flushed) for next time."""
    version = data_version(experiment)
    row = db.session.get(ResultsCache, (experiment.id, key))
    if row is not None and row.data_version == version:
        return row.payload
    payload = compute_payload()
    if row is None:
        row = ResultsCache(experiment_id=experiment.id, options=key)
        db.session.add(row)
    row.data_version = version
    row.computed_at = utcnow()
    row.payload = payload
    db.session.flush()
    return payload


def clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def _estimate(estimate: stats.Estimate | None) -> dict[str, Any] | None:
    if estimate is None:
        return None
    return {
        "estimate": estimate.estimate,
        "ci_low": estimate.ci_low,
        "ci_high": estimate.ci_high,
        "p_value": estimate.p_value,
        "std_error": estimate.std_error,
    }


#: N* when the design gives neither a planned sample size nor an MDE from which
#: to derive one (GrowthBook's default).
DEFAULT_TUNING = 5000
_NORMAL = NormalDist()


def _tuning(experiment: Experiment, metric: Metric, control: stats.SampleStats) -> int:
    """N* for the confidence sequence of one treatment against control, in units
    of the pair: twice the design's planned sample size per variant when it is
    set; otherwise (a fallback) the units that the design's MDE, alpha and power
    call for, by the normal approximation in closed form; else a constant.

    Fallback: n per variant = (z₁₋α/₂ + z_power)² (σ₁² + σ₂²) / δ², with
    δ = baseline × MDE; proportions take σ² = p(1 − p) at p = baseline and
    baseline × (1 + MDE), means σ² = the control's variance for both. The design
    has no baseline, so the control's observed mean and variance stand in for
    it: that N* moves a little with the data, which the planned sample size
    avoids (set it to keep peeking strictly safe).
    """
    if experiment.planned_units:
        return 2 * experiment.planned_units
    if not experiment.mde or control.n < 2:
        return DEFAULT_TUNING
    baseline, mde = control.mean, experiment.mde
    delta = baseline * mde
    if metric.kind == MetricKind.PROPORTION:
        treated = baseline * (1 + mde)
        if not (0 < baseline < 1 and treated < 1):
            return DEFAULT_TUNING
        variance = baseline * (1 - baseline) + treated * (1 - treated)
    else:
        variance = 2 * control.variance
        if not variance > 0 or delta == 0:
            return DEFAULT_TUNING
    z = _NORMAL.inv_cdf(1 - experiment.alpha / 2) + _NORMAL.inv_cdf(experiment.power)
    per_variant = math.ceil(z * z * variance / (delta * delta))
    return 2 * per_variant


def uses_cuped(metric: Metric, options: Options) -> bool:
    """CUPED applies when asked for and the metric defines a pre-exposure
    covariate (never to ratio metrics)."""
    return (
        options.cuped
        and bool(metric.cuped_lookback_days)
        and metric.kind != MetricKind.RATIO
    )


def _sequential_tuning(
    experiment: Experiment, metric: Metric, control: stats.SampleStats, options: Options
) -> int | None:
    """N* for a metric when the analysis is sequential, else None."""
    if not options.sequential:
        return None
    return options.tuning or _tuning(experiment, metric, control)


def _compare(
    metric: Metric,
    control: stats.SampleStats,
    treatment: stats.SampleStats,
    options: Options,
    *,
    cuped: bool,
    tuning: int | None,
) -> stats.Comparison:
    """One treatment against control: delta method for ratios, Welch (with CUPED
    when asked) otherwise; always-valid when ``tuning`` (N*) is given."""
    if metric.kind == MetricKind.RATIO:
        comparison = stats.compare_ratios(control, treatment, alpha=options.alpha)
    else:
        comparison = stats.compare_means(
            control, treatment, alpha=options.alpha, cuped=cuped
        )
    if tuning:
        comparison = stats.sequential(
            comparison,
            n=control.n + treatment.n,
            tuning=tuning,
            alpha=options.alpha,
        )
    return comparison


def options_payload(experiment: Experiment, options: Options) -> dict[str, Any]:
    """The payload's ``options``: the options analysed with, and the design's
    planned units."""
    return {
        "cuped": options.cuped,
        "sequential": options.sequential,
        "sequential_tuning": options.tuning,
        "planned_units": experiment.planned_units,
        "alpha": options.alpha,
        "correction": options.correction,
    }


def assemble(
    experiment: Experiment,
    options: Options,
    stats_of: Callable[[Metric], dict[str, stats.SampleStats]],
    family: list[tuple[dict[str, Any], float | None]],
) -> list[dict[str, Any]]:
    """The payload's ``metrics``: per metric (primary, secondary, guardrail; in
    design order) the control's summary and each treatment's comparison with it,
    from ``stats_of(metric)`` (SampleStats per variant key). Each treatment's
    entry and raw p-value (None: too few units) is appended to ``family``; the
    caller corrects them together (``adjusted_p_value``)."""
    control_key = experiment.control.key
    links = sorted(
        experiment.metric_links,
        key=lambda link: (ROLE_ORDER[MetricRole(link.role)], link.position),
    )
    metrics_out: list[dict[str, Any]] = []
    for link in links:
        metric = link.metric
        use_cuped = uses_cuped(metric, options)
        by_variant = stats_of(metric)
        control = by_variant[control_key]
        tuning = _sequential_tuning(experiment, metric, control, options)
        variants_out = [{"variant": control_key, **stats.summarise(control)}]
        for variant in experiment.variants:
            if variant.key == control_key:
                continue
            treatment = by_variant[variant.key]
            entry: dict[str, Any] = {
                "variant": variant.key,
                **stats.summarise(treatment),
            }
            if control.n < 2 or treatment.n < 2:
                entry.update(absolute=None, relative=None, adjusted_p_value=None)
                entry["bayesian"] = None
                entry["warnings"] = [stats.messages.LOW_SAMPLE]
                family.append((entry, None))
                variants_out.append(entry)
                continue
            comparison = _compare(
                metric, control, treatment, options, cuped=use_cuped, tuning=tuning
            )
            if tuning:
                entry["sequential_tuning"] = tuning
            bayes = stats.bayesian(
                comparison, higher_is_better=metric.direction == "increase"
            )
            entry.update(
                control_mean=comparison.control_mean,
                treatment_mean=comparison.treatment_mean,
                absolute=_estimate(comparison.absolute),
                relative=_estimate(comparison.relative),
                cuped_applied=comparison.cuped_applied,
                variance_reduction=comparison.variance_reduction,
                bayesian=bayes.to_dict(),
                warnings=list(comparison.warnings),
            )
            family.append((entry, comparison.absolute.p_value))
            variants_out.append(entry)
        metrics_out.append(
            {
                "metric": metric.key,
                "name": {"zh": metric.name_zh, "en": metric.name_en},
                "kind": metric.kind,
                "role": link.role,
                "direction": metric.direction,
                "cuped": use_cuped,
                "variants": variants_out,
            }
        )
    return metrics_out


def adjust(family: list[tuple[dict[str, Any], float | None]], correction: str):
    """Set each entry's ``adjusted_p_value``: the raw p-values of ``family``
    corrected together (``correction``: holm, bh or none)."""
    adjusted = stats.adjust_p_values([p for _e, p in family], correction)
    for (entry, _p), p_adjusted in zip(family, adjusted, strict=True):
        entry["adjusted_p_value"] = p_adjusted


def compute(experiment: Experiment, options: Options) -> dict[str, Any]:
    """Compute the results payload (no cache)."""
    counts = analysis.exposure_counts(experiment)
    srm = stats.srm(counts.per_variant, {v.key: v.weight for v in experiment.variants})
    warnings: list[str] = []
    if srm.flag:
        warnings.append(stats.messages.SRM)
    if counts.multiple:
        warnings.append(stats.messages.MULTIPLE_EXPOSURES)
    if any(n < LOW_SAMPLE for n in counts.per_variant.values()):
        warnings.append(stats.messages.LOW_SAMPLE)

    family: list[tuple[dict[str, Any], float | None]] = []
    metrics_out = assemble(
        experiment,
        options,
        lambda metric: analysis.variant_stats(
            experiment, metric, cuped=uses_cuped(metric, options)
        ),
        family,
    )
    adjust(family, options.correction)
    payload = {
        "experiment": experiment.key,
        "run": experiment.run,
        "computed_at": utcnow().isoformat(),
        "options": options_payload(experiment, options),
        "srm": srm.to_dict(),
        "units": {
            "per_variant": counts.per_variant,
            "multiple_exposures": counts.multiple,
        },
        "metrics": metrics_out,
        "warnings": warnings,
    }
    payload["recommendation"] = recommend(experiment, payload, options.alpha)
    return clean(payload)


def _significant(entry: dict[str, Any], alpha: float) -> int:
    """+1 significantly up, -1 significantly down, 0 otherwise (adjusted p)."""
    p = entry.get("adjusted_p_value")
    if p is None or p >= alpha or not entry.get("absolute"):
        return 0
    return 1 if entry["absolute"]["estimate"] > 0 else -1


def recommend(experiment: Experiment, payload: dict[str, Any], alpha: float) -> dict:
    """The pre-registered rule that fires, in order:

    1. sample-ratio mismatch → ``iterate`` (the assignment is broken; fix it and
       restart before trusting any number);
    2. a guardrail significantly harmed → ``abandon``;
    3. a primary metric significantly better in its desired direction (and no
       guardrail harmed) → ``adopt``;
    4. a primary metric significantly worse → ``abandon``;
    5. nothing significant while the planned duration has not passed →
       ``keep_running``; after it → ``iterate`` (no effect of the planned size).
    """
    reasons: list[dict[str, Any]] = []
    if payload["srm"].get("flag"):
        return {"decision": "iterate", "rule": "srm", "reasons": [{"rule": "srm"}]}
    harmed, better, worse = [], [], []
    for metric in payload["metrics"]:
        sign_wanted = 1 if metric["direction"] == "increase" else -1
        for entry in metric["variants"][1:]:
            sign = _significant(entry, alpha)
            if not sign:
                continue
            item = {"metric": metric["metric"], "variant": entry["variant"]}
            if metric["role"] == MetricRole.GUARDRAIL and sign == -sign_wanted:
                harmed.append(item)
            elif metric["role"] == MetricRole.PRIMARY and sign == sign_wanted:
                better.append(item)
            elif metric["role"] == MetricRole.PRIMARY:
                worse.append(item)
    if harmed:
        reasons = [{"rule": "guardrail_harmed", **h} for h in harmed]
        return {"decision": "abandon", "rule": "guardrail_harmed", "reasons": reasons}
    if better:
        reasons = [{"rule": "primary_better", **b} for b in better]
        return {"decision": "adopt", "rule": "primary_better", "reasons": reasons}
    if worse:
        reasons = [{"rule": "primary_worse", **w} for w in worse]
        return {"decision": "abandon", "rule": "primary_worse", "reasons": reasons}
    ended = experiment.status in (ExperimentStatus.STOPPED, ExperimentStatus.DECIDED)
    started = experiment.started_at
    if not ended and started is not None:
        days = (utcnow() - started).total_seconds() / 86400
        if days < experiment.planned_duration_days:
            return {
                "decision": "keep_running",
                "rule": "before_planned_end",
                "reasons": [{"rule": "before_planned_end", "days_run": round(days, 1)}],
            }
    return {
        "decision": "iterate",
        "rule": "no_effect",
        "reasons": [{"rule": "no_effect"}],
    }


def as_of(payload: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(payload["computed_at"])


def evidence(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The primary metrics' comparisons, as the asset library records them."""
    items = []
    for metric in payload["metrics"]:
        if metric["role"] != MetricRole.PRIMARY:
            continue
        control = metric["variants"][0]
        for entry in metric["variants"][1:]:
            items.append(
                {
                    "metric": metric["metric"],
                    "metric_name": metric["name"],
                    "variant": entry["variant"],
                    "relative": entry.get("relative"),
                    "absolute": entry.get("absolute"),
                    "adjusted_p_value": entry.get("adjusted_p_value"),
                    "n_control": control["n"],
                    "n_variant": entry["n"],
                }
            )
    return items


def decide(
    experiment: Experiment, decision: str, rationale: str, *, actor
) -> ExperimentDecision:
    """Record the owner's decision on a stopped experiment with the results it
    rests on, move it to ``decided``, audit it and tell the other pillars."""
    problems = Problems()
    if decision not in {d.value for d in Decision}:
        problems.add("decision", "Choose adopt, iterate or abandon.")
    if not (rationale or "").strip():
        problems.add("rationale", "Say why: the rationale is part of the record.")
    problems.raise_if_any()
    if experiment.status != ExperimentStatus.STOPPED:
        raise Invalid(
            "status",
            f"Stop the experiment before deciding (it is {experiment.status}).",
            status=409,
        )
    payload = results(experiment, Options.of(experiment))
    row = ExperimentDecision(
        experiment_id=experiment.id,
        run=experiment.run,
        decision=decision,
        rationale=rationale.strip(),
        decided_by_id=getattr(actor, "id", None),
        results=payload,
    )
    db.session.add(row)
    experiment.status = ExperimentStatus.DECIDED
    db.session.flush()
    record(
        actor,
        "experiment.decided",
        f"experiment:{experiment.key}",
        {
            "decision": decision,
            "rationale": rationale.strip(),
            "recommendation": payload["recommendation"]["decision"],
        },
    )
    treatments = [v for v in experiment.variants if not v.is_control]
    experiment_decided.send(
        experiment,
        experiment_key=experiment.key,
        name=experiment.name,
        hypothesis=str(
            _l(
                "If %(if_)s, then %(then)s, because %(because)s.",
                if_=experiment.hypothesis_if or "…",
                then=experiment.hypothesis_then or "…",
                because=experiment.hypothesis_because or "…",
            )
        ),
        variant_description="\n\n".join(
            f"**{v.name}**: {v.description}" if v.description else f"**{v.name}**"
            for v in treatments
        ),
        decision=decision,
        rationale=rationale.strip(),
        evidence=evidence(payload),
        actor=actor,
    )
    return row


CSV_COLUMNS = (
    "metric",
    "role",
    "kind",
    "variant",
    "n",
    "mean",
    "std",
    "absolute",
    "absolute_ci_low",
    "absolute_ci_high",
    "relative",
    "relative_ci_low",
    "relative_ci_high",
    "p_value",
    "adjusted_p_value",
    "chance_to_win",
    "risk",
)


def as_csv(payload: dict[str, Any]) -> str:
    """One row per metric and variant (relative values as fractions)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for metric in payload["metrics"]:
        for entry in metric["variants"]:
            absolute = entry.get("absolute") or {}
            relative = entry.get("relative") or {}
            bayes = entry.get("bayesian") or {}
            writer.writerow(
                [
                    metric["metric"],
                    metric["role"],
                    metric["kind"],
                    entry["variant"],
                    entry.get("n"),
                    entry.get("mean"),
                    entry.get("std"),
                    absolute.get("estimate"),
                    absolute.get("ci_low"),
                    absolute.get("ci_high"),
                    relative.get("estimate"),
                    relative.get("ci_low"),
                    relative.get("ci_high"),
                    absolute.get("p_value"),
                    entry.get("adjusted_p_value"),
                    bayes.get("chance_to_win"),
                    bayes.get("risk"),
                ]
            )
    return out.getvalue()


def cumulative_lift(
    experiment: Experiment, metric: Metric, options: Options
) -> dict[str, list[dict[str, Any]]]:
    """Relative lift of each treatment by exposure day, cumulative, with its
    interval (always-valid when the options say sequential)."""
    control_key = experiment.control.key
    use_cuped = uses_cuped(metric, options)
    series: dict[str, list[dict[str, Any]]] = {
        v.key: [] for v in experiment.variants if v.key != control_key
    }
    days = analysis.daily_variant_stats(experiment, metric, cuped=use_cuped)
    # One N* for the whole series, from the latest data: the boundary must not
    # move from day to day.
    tuning = (
        _sequential_tuning(experiment, metric, days[-1][1][control_key], options)
        if days
        else None
    )
    for day, by_variant in days:
        control = by_variant[control_key]
        for key, points in series.items():
            treatment = by_variant[key]
            if control.n < 2 or treatment.n < 2:
                continue
            comparison = _compare(
                metric, control, treatment, options, cuped=use_cuped, tuning=tuning
            )
            if comparison.relative is None:
                continue
            points.append(
                clean(
                    {
                        "day": day,
                        "units": control.n + treatment.n,
                        **_estimate(comparison.relative),
                    }
                )
            )
    return series
