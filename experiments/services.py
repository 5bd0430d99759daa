"""Experiments: the metric catalogue, designs and their lifecycle, assignment,
the launch checklist, sample-size planning and the tracking summary.

Functions take plain mappings shaped like the JSON API's bodies, check every rule,
raise :class:`~proving_ground.validation.Invalid` naming the fields at fault, and
``flush()``; the caller's unit of work commits.
"""

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from experiments.assignment import Splitter
from experiments.models import (
    Aggregate,
    CapKind,
    Direction,
    Event,
    Experiment,
    ExperimentMetric,
    ExperimentStatus,
    Exposure,
    ExposureChange,
    Metric,
    MetricKind,
    MetricRole,
    UnitType,
    Variant,
)
from proving_ground.audit.services import record
from proving_ground.db import db, local_day, utcnow
from proving_ground.validation import Invalid, Problems

METRIC_KEY = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
EXPERIMENT_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
VARIANT_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
EVENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
ATTRIBUTE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_VARIANTS = 10

S = ExperimentStatus
#: Allowed lifecycle moves: action → (from states, to state).
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "start": (frozenset({S.DRAFT, S.PAUSED}), S.RUNNING),
    "pause": (frozenset({S.RUNNING}), S.PAUSED),
    "stop": (frozenset({S.RUNNING, S.PAUSED}), S.STOPPED),
    "archive": (frozenset({S.DRAFT, S.STOPPED, S.DECIDED}), S.ARCHIVED),
}
#: States in which the design is locked.
LOCKED = frozenset({S.RUNNING, S.PAUSED, S.STOPPED, S.DECIDED, S.ARCHIVED})
#: States from which an audited restart goes back to draft.
RESTARTABLE = frozenset({S.RUNNING, S.PAUSED, S.STOPPED})
#: Keys that would collide with the pages under /experiments/.
RESERVED_KEYS = frozenset(
    {"new", "metrics", "power", "events", "write-keys", "vendor", "assets", "static"}
)
#: Fields that may change whatever the state.
ALWAYS_EDITABLE = frozenset({"name", "team", "owner_id"})


# --- metrics ----------------------------------------------------------------------


def get_metric(key: str) -> Metric | None:
    return db.session.scalar(sa.select(Metric).where(Metric.key == key))


def list_metrics() -> sa.Select:
    return sa.select(Metric).order_by(Metric.key)


def _event_types(value: Any, field_name: str, problems: Problems) -> list[str]:
    types = [value] if isinstance(value, str) else value
    if not isinstance(types, list) or not types:
        problems.add(field_name, _l("Name at least one event type."))
        return []
    bad = [t for t in types if not isinstance(t, str) or not EVENT_TYPE.match(t)]
    if bad:
        problems.add(
            field_name,
            _l("Event types are 1-64 letters, digits or _ . : - characters."),
        )
    return list(dict.fromkeys(t for t in types if isinstance(t, str)))


def _metric_fields(data: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    """Check a metric body (partial for PATCH) and return model field values."""
    values: dict[str, Any] = {}
    if "name" in data:
        name = data["name"] if isinstance(data["name"], Mapping) else {}
        for language in ("zh", "en"):
            text = str(name.get(language) or "").strip()
            if not text:
                problems.add(f"name.{language}", _l("Give the name in both languages."))
            values[f"name_{language}"] = text[:200]
    if "description" in data:
        description = data["description"] or {}
        if not isinstance(description, Mapping):
            problems.add("description", _l("Give an object with zh and en texts."))
            description = {}
        for language in ("zh", "en"):
            values[f"description_{language}"] = str(description.get(language) or "")
    if "kind" in data:
        if data["kind"] not in {k.value for k in MetricKind}:
            problems.add("kind", _l("Choose proportion, mean or ratio."))
        values["kind"] = data["kind"]
    if "event_types" in data or "event_type" in data:
        name = "event_types" if "event_types" in data else "event_type"
        values["event_types"] = _event_types(data[name], name, problems)
    if "aggregate" in data:
        if data["aggregate"] not in {a.value for a in Aggregate}:
            problems.add("aggregate", _l("Choose count or sum."))
        values["aggregate"] = data["aggregate"]
    if "denominator" in data:
        denominator = data["denominator"]
        if denominator is None:
            values["denominator_event_types"] = None
            values["denominator_aggregate"] = None
        elif not isinstance(denominator, Mapping):
            problems.add(
                "denominator", _l("Give an object with event_type and aggregate.")
            )
        else:
            name = "event_types" if "event_types" in denominator else "event_type"
            values["denominator_event_types"] = _event_types(
                denominator.get(name), f"denominator.{name}", problems
            )
            aggregate = denominator.get("aggregate", "count")
            if aggregate not in {a.value for a in Aggregate}:
                problems.add("denominator.aggregate", _l("Choose count or sum."))
            values["denominator_aggregate"] = aggregate
    if "window_days" in data:
        window = data["window_days"]
        if not _is_int(window) or not 1 <= window <= 365:
            problems.add("window_days", _l("Use a whole number of days from 1 to 365."))
        values["window_days"] = window
    if "direction" in data:
        if data["direction"] not in {d.value for d in Direction}:
            problems.add("direction", _l("Choose increase or decrease."))
        values["direction"] = data["direction"]
    if "capping" in data:
        capping = data["capping"]
        if capping is None:
            values["cap_kind"] = values["cap_value"] = None
        elif not isinstance(capping, Mapping):
            problems.add("capping", _l("Give an object with kind and value."))
        else:
            kind, value = capping.get("kind"), capping.get("value")
            if kind not in {c.value for c in CapKind}:
                problems.add("capping.kind", _l("Choose absolute or percentile."))
            elif not _is_number(value) or (
                kind == CapKind.PERCENTILE and not 0 < value < 1
            ):
                problems.add(
                    "capping.value",
                    _l("A percentile cap is a fraction between 0 and 1, e.g. 0.99."),
                )
            elif kind == CapKind.ABSOLUTE and value <= 0:
                problems.add("capping.value", _l("An absolute cap must be positive."))
            values["cap_kind"], values["cap_value"] = kind, value
    if "cuped_lookback_days" in data:
        lookback = data["cuped_lookback_days"]
        if lookback is not None and (not _is_int(lookback) or not 1 <= lookback <= 365):
            problems.add(
                "cuped_lookback_days", _l("Use a whole number of days from 1 to 365.")
            )
        values["cuped_lookback_days"] = lookback
    return values


def _check_metric_consistency(metric: Metric, problems: Problems) -> None:
    if metric.kind == MetricKind.PROPORTION:
        metric.aggregate = Aggregate.COUNT
    if metric.kind == MetricKind.RATIO and not metric.denominator_event_types:
        problems.add("denominator", _l("A ratio metric needs a denominator."))
    if metric.kind != MetricKind.RATIO:
        metric.denominator_event_types = metric.denominator_aggregate = None


def create_metric(data: Mapping[str, Any], *, actor) -> Metric:
    """Create a metric from an API-shaped body; returns it flushed."""
    problems = Problems()
    key = data.get("key")
    if not isinstance(key, str) or not METRIC_KEY.match(key):
        problems.add(
            "key",
            _l("Use 2-64 lower-case letters, digits and _, starting with a letter."),
        )
    elif get_metric(key):
        raise Invalid("key", str(_l("A metric with this key exists.")), status=409)
    for required in ("name", "kind"):
        if required not in data:
            problems.add(required, _l("This field is required."))
    if "event_type" not in data and "event_types" not in data:
        problems.add("event_type", _l("This field is required."))
    defaults = {"aggregate": "count", "window_days": 30, "direction": "increase"}
    values = _metric_fields({**defaults, **data}, problems)
    metric = Metric(key=key, created_by_id=getattr(actor, "id", None), **values)
    if not problems:
        _check_metric_consistency(metric, problems)
    problems.raise_if_any()
    db.session.add(metric)
    db.session.flush()
    record(actor, "metric.created", f"metric:{metric.key}")
    return metric


def update_metric(metric: Metric, data: Mapping[str, Any], *, actor) -> Metric:
    """Change a metric. Its definition is locked while a running experiment uses it."""
    problems = Problems()
    if "key" in data and data["key"] != metric.key:
        problems.add("key", _l("A metric's key cannot change."))
    values = _metric_fields(data, problems)
    definition = {k for k in values if not k.startswith(("name_", "description_"))}
    changed = {k for k in definition if getattr(metric, k) != values[k]}
    if changed and _metric_in_use(metric):
        raise Invalid(
            {
                k: [str(_l("Locked: a running experiment uses this metric."))]
                for k in changed
            },
            str(_l("A running experiment uses this metric; its definition is locked.")),
            status=409,
        )
    problems.raise_if_any()
    for name, value in values.items():
        setattr(metric, name, value)
    _check_metric_consistency(metric, problems)
    problems.raise_if_any()
    db.session.flush()
    record(actor, "metric.updated", f"metric:{metric.key}", {"fields": sorted(values)})
    return metric


def _metric_in_use(metric: Metric) -> bool:
    return bool(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(ExperimentMetric)
            .join(Experiment)
            .where(
                ExperimentMetric.metric_id == metric.id,
                Experiment.status.in_([S.RUNNING, S.PAUSED]),
            )
        )
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- experiments ------------------------------------------------------------------


def get_experiment(key: str) -> Experiment | None:
    return db.session.scalar(sa.select(Experiment).where(Experiment.key == key))


def list_experiments(
    *, status: str | None = None, owner_id: int | None = None, q: str | None = None
) -> sa.Select:
    """Experiments, most recently changed first, filtered as given."""
    stmt = sa.select(Experiment).order_by(
        Experiment.updated_at.desc(), Experiment.id.desc()
    )
    if status:
        stmt = stmt.where(Experiment.status == status)
    if owner_id:
        stmt = stmt.where(Experiment.owner_id == owner_id)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(
            sa.or_(sa.func.lower(Experiment.name).like(like), Experiment.key.like(like))
        )
    return stmt


HYPOTHESIS_PARTS = re.compile(
    r"^\s*(?:if|如果|假如)\s*(?P<if>.+?)[,，;；]?\s*(?:then|那么|则)\s*(?P<then>.+?)"
    r"[,，;；]?\s*(?:because|因为)\s*(?P<because>.+?)\s*[.。]?\s*$",
    re.IGNORECASE | re.DOTALL,
)


def parse_hypothesis(value: Any, problems: Problems) -> dict[str, str]:
    """``{"if", "then", "because"}`` from an object, or from one sentence of the
    form "If …, then …, because …" (如果…，那么…，因为…)."""
    if isinstance(value, Mapping):
        return {
            part: str(value.get(part) or "").strip()
            for part in ("if", "then", "because")
        }
    if isinstance(value, str):
        match = HYPOTHESIS_PARTS.match(value)
        if match:
            return {
                part: match.group(part).strip() for part in ("if", "then", "because")
            }
        return {"if": value.strip(), "then": "", "because": ""}
    problems.add("hypothesis", _l("Give an object with if, then and because."))
    return {"if": "", "then": "", "because": ""}


def _variants(value: Any, problems: Problems) -> list[Variant]:
    if not isinstance(value, list) or not 2 <= len(value) <= MAX_VARIANTS:
        problems.add(
            "variants", _l("An experiment has 2 to %(n)d variants.", n=MAX_VARIANTS)
        )
        return []
    variants, keys = [], set()
    explicit = any(isinstance(v, Mapping) and v.get("control") for v in value)
    for index, item in enumerate(value):
        where = f"variants.{index}"
        if not isinstance(item, Mapping):
            problems.add(where, _l("Each variant is an object."))
            continue
        key, weight = item.get("key"), item.get("weight")
        if not isinstance(key, str) or not VARIANT_KEY.match(key):
            problems.add(
                f"{where}.key", _l("Use 1-64 lower-case letters, digits, _ and -.")
            )
        elif key in keys:
            problems.add(f"{where}.key", _l("Variant keys must differ."))
        keys.add(key)
        if not _is_number(weight) or not 0 < weight < 1:
            problems.add(f"{where}.weight", _l("A weight is a number between 0 and 1."))
        is_control = bool(item.get("control")) if explicit else key == "control"
        variants.append(
            Variant(
                key=key if isinstance(key, str) else "",
                name=str(item.get("name") or key or "")[:200],
                description=str(item.get("description") or ""),
                weight=weight if _is_number(weight) else 0,
                is_control=is_control,
                position=index,
            )
        )
    if problems.fields.keys() & {f"variants.{i}.weight" for i in range(len(value))}:
        return variants
    if abs(sum(v.weight for v in variants) - 1) > 1e-6:
        problems.add("variants", _l("The variants' weights must sum to 1."))
    controls = sum(v.is_control for v in variants)
    if controls != 1:
        problems.add(
            "variants",
            _l(
                'Exactly one variant is the control: name it "control" '
                'or mark it with "control": true.'
            ),
        )
    return variants


def _metric_links(
    data: Mapping[str, Any], problems: Problems
) -> list[ExperimentMetric] | None:
    names = [f"{role.value}_metrics" for role in MetricRole]
    if not any(name in data for name in names):
        return None
    links, seen = [], set()
    for role in MetricRole:
        name = f"{role.value}_metrics"
        keys = data.get(name) or []
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            problems.add(name, _l("Give a list of metric keys."))
            continue
        for position, key in enumerate(keys):
            metric = get_metric(key)
            if metric is None:
                problems.add(name, _l("No metric with key %(key)s.", key=key))
            elif key in seen:
                problems.add(name, _l("Metric %(key)s is listed twice.", key=key))
            else:
                seen.add(key)
                links.append(
                    ExperimentMetric(metric=metric, role=role, position=position)
                )
    return links


def _experiment_fields(data: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "name" in data:
        name = str(data["name"] or "").strip()
        if not name:
            problems.add("name", _l("This field is required."))
        values["name"] = name[:200]
    if "hypothesis" in data:
        parts = parse_hypothesis(data["hypothesis"], problems)
        values.update({f"hypothesis_{k}": v for k, v in parts.items()})
    if "team" in data:
        values["team"] = str(data["team"] or "").strip() or None
    if "unit_type" in data:
        if data["unit_type"] not in {u.value for u in UnitType}:
            problems.add(
                "unit_type", _l("Choose lead, customer, account, rep or store.")
            )
        values["unit_type"] = data["unit_type"]
    if "cluster_attribute" in data or "randomisation" in data:
        attribute = data.get("cluster_attribute")
        if data.get("randomisation", "cluster" if attribute else "unit") == "unit":
            attribute = None
        elif not isinstance(attribute, str) or not ATTRIBUTE.match(attribute):
            problems.add(
                "cluster_attribute",
                _l("Name the unit attribute to cluster by, e.g. rep_id."),
            )
        values["cluster_attribute"] = attribute
    if "variants" in data:
        values["variants"] = _variants(data["variants"], problems)
    analysis = data.get("analysis")
    if analysis is not None:
        if not isinstance(analysis, Mapping):
            problems.add("analysis", _l("Give an object."))
            analysis = {}
        checks = {
            "alpha": (
                lambda v: _is_number(v) and 0 < v <= 0.2,
                _l("Alpha is between 0 and 0.2."),
            ),
            "power": (
                lambda v: _is_number(v) and 0.5 <= v < 1,
                _l("Power is between 0.5 and 1."),
            ),
            "mde": (
                lambda v: v is None or (_is_number(v) and 0 < v <= 10),
                _l("The minimum detectable effect is a positive fraction, e.g. 0.05."),
            ),
            "planned_units": (
                lambda v: v is None or (_is_int(v) and 1 <= v <= 1_000_000_000),
                _l("The planned sample size is a whole number of units per variant."),
            ),
            "sequential": (lambda v: isinstance(v, bool), _l("Use true or false.")),
            "cuped": (lambda v: isinstance(v, bool), _l("Use true or false.")),
        }
        for name, (ok, message) in checks.items():
            if name in analysis:
                if not ok(analysis[name]):
                    problems.add(f"analysis.{name}", message)
                values[name] = analysis[name]
        unknown = set(analysis) - set(checks)
        if unknown:
            problems.add(
                "analysis",
                _l("Unknown settings: %(names)s", names=", ".join(sorted(unknown))),
            )
    if "planned_duration_days" in data:
        days = data["planned_duration_days"]
        if not _is_int(days) or not 1 <= days <= 365:
            problems.add(
                "planned_duration_days", _l("Use a whole number of days from 1 to 365.")
            )
        values["planned_duration_days"] = days
    criteria = data.get("decision_criteria")
    if criteria is not None:
        if not isinstance(criteria, Mapping):
            problems.add(
                "decision_criteria", _l("Give an object with success and early_stop.")
            )
        else:
            values["success_criteria"] = str(criteria.get("success") or "").strip()
            values["early_stop_criteria"] = str(
                criteria.get("early_stop") or ""
            ).strip()
    links = _metric_links(data, problems)
    if links is not None:
        values["metric_links"] = links
    return values


def create_experiment(data: Mapping[str, Any], *, actor) -> Experiment:
    """Create a draft experiment from an API-shaped body; returns it flushed."""
    problems = Problems()
    key = data.get("key")
    if not isinstance(key, str) or not EXPERIMENT_KEY.match(key):
        problems.add("key", _l("Use 2-64 lower-case letters, digits and -."))
    elif key in RESERVED_KEYS:
        problems.add("key", _l("This key is reserved; choose another."))
    elif get_experiment(key):
        raise Invalid("key", str(_l("An experiment with this key exists.")), status=409)
    for required in ("name", "unit_type", "variants"):
        if required not in data:
            problems.add(required, _l("This field is required."))
    values = _experiment_fields(data, problems)
    problems.raise_if_any()
    experiment = Experiment(
        key=key,
        salt=secrets.token_hex(8),
        owner_id=getattr(actor, "id", None),
        team=values.pop("team", None) or getattr(actor, "team", None),
        status=S.DRAFT,
        **values,
    )
    db.session.add(experiment)
    db.session.flush()
    record(actor, "experiment.created", f"experiment:{experiment.key}")
    return experiment


def update_experiment(
    experiment: Experiment, data: Mapping[str, Any], *, actor
) -> Experiment:
    """Change an experiment; once started only name, team and owner may change."""
    problems = Problems()
    if "key" in data and data["key"] != experiment.key:
        problems.add("key", _l("An experiment's key cannot change."))
    values = _experiment_fields(data, problems)
    if "owner_id" in data:
        values["owner_id"] = data["owner_id"]
    problems.raise_if_any()
    if experiment.status in LOCKED:
        locked = sorted(set(values) - ALWAYS_EDITABLE)
        if locked:
            raise Invalid(
                {
                    name: [str(_l("Locked while the experiment runs."))]
                    for name in locked
                },
                str(
                    _l(
                        "The design is locked once the experiment has started. "
                        "Restart it (audited) or create a new experiment."
                    )
                ),
                status=409,
            )
    for collection in ("variants", "metric_links"):
        if collection in values:  # old rows go first: keys are unique per experiment
            getattr(experiment, collection).clear()
            db.session.flush()
    for name, value in values.items():
        setattr(experiment, name, value)
    db.session.flush()
    record(
        actor,
        "experiment.updated",
        f"experiment:{experiment.key}",
        {"fields": sorted(values)},
    )
    return experiment


# --- launch checklist and lifecycle ---------------------------------------------------


@dataclass(frozen=True)
class CheckItem:
    key: str
    label: str
    ok: bool
    required: bool = True


def launch_checklist(experiment: Experiment) -> list[CheckItem]:
    """What must be true before launch (required) and what is advised."""
    weights_ok = abs(sum(v.weight for v in experiment.variants) - 1) < 1e-6
    return [
        CheckItem(
            "hypothesis",
            str(_l("The hypothesis says if, then and because")),
            all(
                (
                    experiment.hypothesis_if,
                    experiment.hypothesis_then,
                    experiment.hypothesis_because,
                )
            ),
        ),
        CheckItem(
            "variants",
            str(_l("Two or more variants, exactly one control, weights summing to 1")),
            len(experiment.variants) >= 2
            and sum(v.is_control for v in experiment.variants) == 1
            and weights_ok,
        ),
        CheckItem(
            "primary_metric",
            str(_l("At least one primary metric")),
            bool(experiment.metrics(MetricRole.PRIMARY)),
        ),
        CheckItem(
            "success_criteria",
            str(_l("Success criteria written before launch")),
            bool(experiment.success_criteria),
        ),
        CheckItem(
            "early_stop_criteria",
            str(_l("Early-stop criteria written before launch")),
            bool(experiment.early_stop_criteria),
        ),
        CheckItem(
            "mde",
            str(_l("Minimum detectable effect set, so the sample size is planned")),
            experiment.mde is not None,
            required=False,
        ),
        CheckItem(
            "guardrail",
            str(_l("A guardrail metric watches for harm")),
            bool(experiment.metrics(MetricRole.GUARDRAIL)),
            required=False,
        ),
    ]


def transition(
    experiment: Experiment, action: str, *, actor, reason: str = ""
) -> Experiment:
    """Move an experiment through its lifecycle, auditing the move."""
    if action == "restart":
        return restart(experiment, actor=actor, reason=reason)
    if action not in TRANSITIONS:
        raise Invalid("action", str(_l("Unknown action.")))
    sources, target = TRANSITIONS[action]
    if experiment.status not in sources:
        raise Invalid(
            "status",
            str(
                _l(
                    "Cannot %(action)s an experiment that is %(status)s.",
                    action=action,
                    status=experiment.status,
                )
            ),
            status=409,
        )
    if action == "start" and experiment.status == S.DRAFT:
        failing = [
            item
            for item in launch_checklist(experiment)
            if item.required and not item.ok
        ]
        if failing:
            raise Invalid(
                {item.key: [item.label] for item in failing},
                str(_l("The launch checklist is not complete.")),
                status=409,
            )
        experiment.started_at = utcnow()
    if action == "stop":
        experiment.stopped_at = utcnow()
    previous = experiment.status
    experiment.status = target
    db.session.flush()
    record(
        actor,
        f"experiment.{action}",
        f"experiment:{experiment.key}",
        {"from": previous, "to": target, **({"reason": reason} if reason else {})},
    )
    return experiment


def restart(experiment: Experiment, *, actor, reason: str) -> Experiment:
    """Back to draft so the design can change; a new run begins.

    Exposures of earlier runs stay stored but are not analysed; the salt is kept,
    so units keep their variants unless the weights change.
    """
    if experiment.status not in RESTARTABLE:
        raise Invalid(
            "status", str(_l("Only a started experiment can be restarted.")), status=409
        )
    if not reason.strip():
        raise Invalid("reason", str(_l("Say why the experiment restarts.")))
    previous = experiment.status
    experiment.status = S.DRAFT
    experiment.run += 1
    experiment.started_at = experiment.stopped_at = None
    db.session.flush()
    record(
        actor,
        "experiment.restart",
        f"experiment:{experiment.key}",
        {"from": previous, "run": experiment.run, "reason": reason.strip()},
    )
    return experiment


# --- assignment -------------------------------------------------------------------


def splitter(experiment: Experiment) -> Splitter:
    return Splitter.of(
        experiment.salt, [(v.key, v.weight) for v in experiment.variants]
    )


def assignment_id(
    experiment: Experiment, unit_id: str, attributes: Mapping[str, Any]
) -> str:
    """The id that is hashed: the unit's, or its cluster's."""
    if experiment.cluster_attribute is None:
        return unit_id
    value = attributes.get(experiment.cluster_attribute)
    if value is None or value == "":
        raise Invalid(
            f"attributes.{experiment.cluster_attribute}",
            str(
                _l(
                    "This experiment randomises by %(attribute)s; "
                    "send it in attributes.",
                    attribute=experiment.cluster_attribute,
                )
            ),
        )
    return str(value)


def _check_unit_id(unit_id: Any, field_name: str = "unit_id") -> str:
    if (
        not isinstance(unit_id, str | int)
        or isinstance(unit_id, bool)
        or not str(unit_id).strip()
    ):
        raise Invalid(field_name, str(_l("Give the unit's id.")))
    unit_id = str(unit_id).strip()
    if len(unit_id) > 128:
        raise Invalid(field_name, str(_l("At most %(n)d characters.", n=128)))
    return unit_id


def assign(
    experiment: Experiment,
    unit_id: Any,
    attributes: Mapping[str, Any] | None = None,
    *,
    source: str = "assign",
    at: datetime | None = None,
) -> str:
    """The unit's variant; records its exposure the first time (idempotent)."""
    unit_id = _check_unit_id(unit_id)
    attributes = dict(attributes or {})
    _require_running(experiment)
    cluster = assignment_id(experiment, unit_id, attributes)
    variant = splitter(experiment).variant(cluster)
    record_exposures(
        experiment,
        [
            {
                "unit_id": unit_id,
                "variant_key": variant,
                "cluster_id": cluster if experiment.cluster_attribute else None,
                "first_exposed_at": at or utcnow(),
                "attributes": attributes or None,
            }
        ],
        source=source,
    )
    return variant


def record_exposures(
    experiment: Experiment, rows: list[dict[str, Any]], *, source: str
) -> int:
    """Store exposures; a unit-variant pair already stored keeps the earliest
    exposure time (events may arrive out of order). Returns the rows written."""
    if not rows:
        return 0
    table = Exposure.__table__
    # One row per unit and variant (the earliest): PostgreSQL refuses to update
    # the same row twice in one statement.
    earliest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["unit_id"], row["variant_key"])
        if (
            key not in earliest
            or row["first_exposed_at"] < earliest[key]["first_exposed_at"]
        ):
            earliest[key] = row
    values = [
        {"experiment_id": experiment.id, "run": experiment.run, "source": source, **row}
        for row in earliest.values()
    ]
    stmt = dialect_insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["experiment_id", "run", "unit_id", "variant_key"],
        set_={"first_exposed_at": stmt.excluded.first_exposed_at},
        where=stmt.excluded.first_exposed_at < table.c.first_exposed_at,
    ).returning(table.c.unit_id)
    written = db.session.execute(stmt, values).scalars().all()
    if written:  # the analysis rollup recomputes these units (see analysis.py)
        db.session.execute(
            sa.insert(ExposureChange),
            [
                {"experiment_id": experiment.id, "run": experiment.run, "unit_id": u}
                for u in set(written)
            ],
        )
    return len(written)


def dialect_insert(table: sa.Table):
    """The INSERT construct with ON CONFLICT support of the session's database."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - other dialects are not supported
        raise NotImplementedError(dialect)
    return insert(table)


def insert_ignoring_duplicates(table: sa.Table, conflict_columns: Iterable[str]):
    """An INSERT that skips rows colliding on ``conflict_columns``."""
    return dialect_insert(table).on_conflict_do_nothing(
        index_elements=list(conflict_columns)
    )


def assign_units(experiment: Experiment, frame: pd.DataFrame) -> pd.DataFrame:
    """The units of a CSV (a lead list from the CRM) with a ``variant`` column.

    Every other column is a unit attribute (cluster experiments need theirs).
    Rows that cannot be assigned get an empty variant and an ``error``. The
    assignments are recorded as exposures, as if each unit had been assigned
    through the API.
    """
    if "unit_id" not in frame.columns:
        raise Invalid("file", str(_l("The CSV needs a unit_id column.")))
    _require_running(experiment)
    split = splitter(experiment)
    now = utcnow()
    variants, errors, exposures = [], [], []
    for row in frame.to_dict("records"):
        attributes = {k: v for k, v in row.items() if k != "unit_id" and v != ""}
        try:
            unit_id = _check_unit_id(row["unit_id"])
            cluster = assignment_id(experiment, unit_id, attributes)
        except Invalid as exc:
            variants.append("")
            errors.append(exc.message)
            continue
        variant = split.variant(cluster)
        variants.append(variant)
        errors.append("")
        exposures.append(
            {
                "unit_id": unit_id,
                "variant_key": variant,
                "cluster_id": cluster if experiment.cluster_attribute else None,
                "first_exposed_at": now,
                "attributes": attributes or None,
            }
        )
    for start in range(0, len(exposures), 1000):
        record_exposures(experiment, exposures[start : start + 1000], source="bulk")
    result = frame.copy()
    result["variant"] = variants
    if any(errors):
        result["error"] = errors
    return result


def _require_running(experiment: Experiment) -> None:
    if experiment.status != S.RUNNING:
        raise Invalid(
            "experiment",
            str(
                _l(
                    "The experiment is %(status)s; only running experiments assign.",
                    status=experiment.status,
                )
            ),
            status=409,
        )


# --- tracking summary -------------------------------------------------------------


@dataclass
class TrackingSummary:
    """What the live tracking page shows for one experiment (current run)."""

    exposures: dict[str, int] = field(default_factory=dict)
    planned_share: dict[str, float] = field(default_factory=dict)
    #: (day, variant, exposures that day), days in the display time zone.
    daily: list[tuple[str, str, int]] = field(default_factory=list)
    events_by_type: list[tuple[str, int]] = field(default_factory=list)
    last_event_at: datetime | None = None
    multiple_exposures: int = 0
    total_units: int = 0


def tracking_summary(experiment: Experiment) -> TrackingSummary:
    """Exposure counts per variant and day, events per type among exposed units,
    the last event time and the number of units exposed to several variants."""
    summary = TrackingSummary(
        planned_share={v.key: v.weight for v in experiment.variants}
    )
    current = sa.and_(
        Exposure.experiment_id == experiment.id, Exposure.run == experiment.run
    )
    per_variant = db.session.execute(
        sa.select(Exposure.variant_key, sa.func.count())
        .where(current)
        .group_by(Exposure.variant_key)
    ).all()
    summary.exposures = {v.key: 0 for v in experiment.variants} | dict(per_variant)
    day = local_day(Exposure.first_exposed_at)
    summary.daily = [
        (str(d), k, n)
        for d, k, n in db.session.execute(
            sa.select(day, Exposure.variant_key, sa.func.count())
            .where(current)
            .group_by(day, Exposure.variant_key)
            .order_by(day)
        ).all()
    ]
    multi = (
        sa.select(Exposure.unit_id)
        .where(current)
        .group_by(Exposure.unit_id)
        .having(sa.func.count(sa.distinct(Exposure.variant_key)) > 1)
        .subquery()
    )
    summary.multiple_exposures = (
        db.session.scalar(sa.select(sa.func.count()).select_from(multi)) or 0
    )
    summary.total_units = (
        db.session.scalar(
            sa.select(sa.func.count(sa.distinct(Exposure.unit_id))).where(current)
        )
        or 0
    )
    exposed = sa.select(Exposure.unit_id).where(current).distinct().scalar_subquery()
    summary.events_by_type = [
        (t, n)
        for t, n in db.session.execute(
            sa.select(Event.type, sa.func.count())
            .where(Event.unit_id.in_(exposed))
            .group_by(Event.type)
            .order_by(sa.func.count().desc())
        ).all()
    ]
    summary.last_event_at = db.session.scalar(
        sa.select(sa.func.max(Event.received_at)).where(Event.unit_id.in_(exposed))
    )
    return summary


# --- sample size ------------------------------------------------------------------


@dataclass(frozen=True)
class SampleSizePlan:
    """Units needed per variant, in all, and the weeks that takes."""

    per_variant: int
    total: int
    weeks: float | None
    effect_size: float


def plan_sample_size(
    *,
    baseline: float,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
    variants: int = 2,
    sd: float | None = None,
    weekly_units: float | None = None,
) -> SampleSizePlan:
    """Sample size for a two-sided test of each treatment against control.

    Proportions (``sd`` None): ``baseline`` is the control rate and the effect is
    Cohen's h between ``baseline`` and ``baseline × (1 + mde)``, solved with
    statsmodels' NormalIndPower. Means: the effect is d = baseline × mde / sd,
    solved with TTestIndPower. ``mde`` is relative (0.05 = +5 %). Equal allocation.
    """
    from statsmodels.stats.power import NormalIndPower, TTestIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    problems = Problems()
    if not 0 < alpha < 1:
        problems.add("alpha", _l("Alpha is between 0 and 1."))
    if not 0 < power < 1:
        problems.add("power", _l("Power is between 0 and 1."))
    if mde <= 0:
        problems.add("mde", _l("The minimum detectable effect must be positive."))
    if variants < 2:
        problems.add("variants", _l("At least two variants."))
    if sd is None:
        if not 0 < baseline < 1:
            problems.add("baseline", _l("A baseline rate is between 0 and 1."))
        elif not baseline * (1 + mde) < 1:
            problems.add("mde", _l("The treatment rate would exceed 100%."))
    elif sd <= 0 or baseline == 0:
        problems.add(
            "sd", _l("Give a positive standard deviation and a non-zero mean.")
        )
    problems.raise_if_any()
    if sd is None:
        effect = abs(proportion_effectsize(baseline * (1 + mde), baseline))
        n = NormalIndPower().solve_power(
            effect_size=effect, alpha=alpha, power=power, ratio=1.0
        )
    else:
        effect = abs(baseline * mde / sd)
        n = TTestIndPower().solve_power(
            effect_size=effect, alpha=alpha, power=power, ratio=1.0
        )
    per_variant = int(-(-float(n) // 1))
    total = per_variant * variants
    weeks = total / weekly_units if weekly_units else None
    return SampleSizePlan(per_variant, total, weeks, float(effect))


def planned_end(experiment: Experiment) -> datetime | None:
    if experiment.started_at is None:
        return None
    return experiment.started_at + timedelta(days=experiment.planned_duration_days)


# --- AI suggestions (read by the assessments pillar's readiness baseline) --------

AI_SUGGESTION_SHOWN = "ai_suggestion_shown"
AI_SUGGESTION_ACCEPTED = "ai_suggestion_accepted"


def ai_suggestion_counts(
    rep_ids: Iterable[str], start: datetime, end: datetime
) -> dict[str, tuple[int, int]]:
    """Per rep id: how many ``ai_suggestion_shown`` and ``ai_suggestion_accepted``
    events occurred in [start, end), as (shown, accepted). Reps with neither are
    left out. One grouped query."""
    reps = sorted(set(rep_ids))
    if not reps:
        return {}
    shown = sa.func.sum(sa.case((Event.type == AI_SUGGESTION_SHOWN, 1), else_=0))
    accepted = sa.func.sum(sa.case((Event.type == AI_SUGGESTION_ACCEPTED, 1), else_=0))
    rows = db.session.execute(
        sa.select(Event.rep_id, shown, accepted)
        .where(
            Event.rep_id.in_(reps),
            Event.type.in_((AI_SUGGESTION_SHOWN, AI_SUGGESTION_ACCEPTED)),
            Event.occurred_at >= start,
            Event.occurred_at < end,
        )
        .group_by(Event.rep_id)
    )
    return {rep: (int(s or 0), int(a or 0)) for rep, s, a in rows}
