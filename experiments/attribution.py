"""Attribution across rep → customer → interaction for one experiment and metric.

The data: the analysis rollup's units (analysis.refresh; the units exposed to one
variant of the current run) with their outcome on the metric (analysis.unit_values:
0/1 for a proportion, the count or sum for a mean, a ratio's numerator, capped
as the results cap it), each unit's rep and customer, its exposure
attributes (segments), and its tracked events inside the metric's window, up to
the rollup's settled watermark so that outcomes and paths see the same events.

* **Rep and customer** of a unit: the exposure attributes ``rep_id`` and
  ``customer_id`` when given, else the ``rep_id`` / ``customer_id`` most of the
  unit's events in the window carry; a unit that is itself a customer (or rep)
  is its own. A unit without a customer is taken to be its own customer.
* **Variance decomposition and treatment effect**:
  :func:`experiments.stats.multilevel.variance_decomposition` over the units.
* **Who it helped**: per-rep and per-segment effects of each treatment against
  control, shrunk by empirical Bayes (:func:`~experiments.stats.multilevel.
  shrink_effects`). The segment is an exposure attribute (``customer_type`` by
  default when the units have it).
* **Through what**: touchpoint attribution per variant
  (:func:`experiments.stats.attribution.attribute`). A unit's path is its
  touchpoints from its first exposure, in time order, up to its conversion (the
  first event of the metric's event types in the window, for a unit whose
  outcome is positive) or to the end of the window. Which events are
  touchpoints:

  1. an event whose property ``touchpoint`` is a string is a touchpoint of that
     type (a CRM tagging a visit as ``follow_up_visit``), ``true`` makes an
     event a touchpoint of its own type, ``false`` keeps it out;
  2. otherwise an event whose type is in the touchpoint list: the ``touchpoints``
     option, else the app setting ``ATTRIBUTION_TOUCHPOINT_TYPES`` (environment
     ``PG_ATTRIBUTION_TOUCHPOINT_TYPES``), else :data:`DEFAULT_TOUCHPOINT_TYPES`;
  3. never the metric's own event types (they are the conversions), a ratio's
     denominator types or exposure events.

Results are cached per options in ResultsCache (key prefix ``attribution:``)
until the experiment's data version changes, as results.py does.
"""

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import current_app

from experiments import analysis
from experiments.models import (
    Event,
    Experiment,
    Exposure,
    Metric,
    MetricKind,
    MetricRole,
    UnitType,
)
from experiments.results import cached, clean
from experiments.stats import SampleStats, messages
from experiments.stats.attribution import (
    DEFAULT_HALF_LIFE,
    METHODS,
    Path,
    attribute,
    path_from_events,
)
from experiments.stats.multilevel import (
    cells_from_units,
    shrink_effects,
    variance_decomposition,
)
from proving_ground.db import db, utcnow
from proving_ground.validation import Invalid, Problems

#: Event types that are interactions, unless the settings say otherwise.
DEFAULT_TOUCHPOINT_TYPES = (
    "call",
    "visit",
    "demo",
    "email",
    "wechat",
    "meeting",
    "proposal",
    "ai_suggestion_accepted",
    "ai_suggestion_ignored",
)
#: Event types that are never touchpoints.
NEVER_TOUCHPOINTS = frozenset({"exposure"})
#: The segment shown by default, when the units' exposure attributes have it.
DEFAULT_SEGMENT = "customer_type"
#: Attributes that name the rep or customer, not a segment.
IDENTITY_ATTRIBUTES = frozenset({"rep_id", "rep_name", "customer_id", "customer_name"})
#: A segment dimension has at most this many levels (else it is an identifier).
MAX_SEGMENT_LEVELS = 20
MAX_HALF_LIFE_DAYS = 365.0
CACHE_PREFIX = "attribution:"


@dataclass(frozen=True)
class Options:
    """What to attribute: the metric (default: the first primary metric), the
    time-decay half-life in days, the segment attribute, the touchpoint types."""

    metric: Metric
    half_life: float
    segment: str | None
    touchpoint_types: tuple[str, ...]

    @classmethod
    def of(cls, experiment: Experiment, query: dict[str, str] | None = None):
        """Options from query arguments (``metric``, ``half_life``, ``segment``,
        ``touchpoints`` comma-separated), else the defaults. Raises Invalid
        naming the argument."""
        query = query or {}
        problems = Problems()
        metrics = {link.metric.key: link.metric for link in experiment.metric_links}
        key = query.get("metric") or ""
        metric = metrics.get(key)
        if not key:
            primary = experiment.metrics(MetricRole.PRIMARY)
            metric = primary[0] if primary else next(iter(metrics.values()), None)
            if metric is None:
                problems.add("metric", "The experiment has no metrics.")
        elif metric is None:
            problems.add("metric", "Not one of the experiment's metrics.")
        half_life = DEFAULT_HALF_LIFE
        if query.get("half_life"):
            try:
                half_life = float(query["half_life"])
                if not 0 < half_life <= MAX_HALF_LIFE_DAYS:
                    raise ValueError
            except ValueError:
                problems.add("half_life", "A number of days above 0, at most 365.")
        types = tuple(
            sorted({t.strip() for t in query.get("touchpoints", "").split(",")} - {""})
        )
        if not types:
            configured = current_app.config.get("ATTRIBUTION_TOUCHPOINT_TYPES")
            types = tuple(configured or DEFAULT_TOUCHPOINT_TYPES)
        problems.raise_if_any()
        segment = query.get("segment")
        return cls(metric, half_life, segment if segment else None, types)

    def key(self) -> str:
        """The cache key (at most 200 characters, as ResultsCache.options)."""
        text = urlencode(
            {
                "metric": self.metric.key,
                "half_life": self.half_life,
                "segment": self.segment or "",
                "touchpoints": ",".join(self.touchpoint_types),
            }
        )
        if len(CACHE_PREFIX + text) > 200:
            text = hashlib.sha256(text.encode()).hexdigest()
        return CACHE_PREFIX + text


def attribution(experiment: Experiment, options: Options) -> dict[str, Any]:
    """The attribution payload (the API's shape), from the cache when neither the
    data nor the design changed since it was computed."""
    if not experiment.variants or experiment.control is None:
        raise Invalid("experiment", "The experiment has no control variant.")
    return cached(experiment, options.key(), lambda: compute(experiment, options))


@dataclass
class UnitData:
    """One analysed unit: variant, outcome, rep, customer, attributes, path."""

    unit_id: str
    variant: str
    exposed_at: datetime
    outcome: float = 0.0
    rep: str | None = None
    customer: str | None = None
    attributes: dict[str, Any] | None = None
    #: (touchpoint type, time) of the touchpoints in the window, any order.
    touches: list[tuple[str, datetime]] | None = None
    #: The first event of the metric's types in the window.
    converted_at: datetime | None = None

    def path(self, window_days: int) -> Path:
        """The unit's :class:`Path`: touches before its conversion (a positive
        outcome) or in its whole window, ages in days before the path's end."""
        converted = self.outcome > 0 and self.converted_at is not None
        touches = self.touches or []
        if converted:
            end = self.converted_at
            touches = [(kind, at) for kind, at in touches if at < end]
        else:
            end = self.exposed_at + timedelta(days=window_days)
        return path_from_events(touches, converted=converted, end=end)


def units(experiment: Experiment, options: Options) -> list[UnitData]:
    """The analysed units with their outcome, rep, customer, attributes and
    touchpoints (see the module docstring), from the rollup (refreshed first)."""
    metric = options.metric
    rollup = analysis.refresh(experiment)
    analysed = analysis.rollup_units(experiment)
    # Outcomes up to the watermark, as the paths (_read_events) see the events.
    values = analysis.unit_values(experiment, metric, rollup=rollup, live=False)
    absent, _y = values.absent
    by_id = {
        unit_id: UnitData(unit_id, variant, at, outcome=absent, touches=[])
        for unit_id, variant, at in db.session.execute(sa.select(analysed)).all()
    }
    for unit_id, x in db.session.execute(
        sa.select(values.rows.c.unit_id, values.rows.c.x)
    ).all():
        unit = by_id.get(unit_id)
        if unit is not None:
            unit.outcome = float(x)
    attributes = db.session.execute(
        sa.select(Exposure.unit_id, Exposure.attributes).where(
            Exposure.experiment_id == experiment.id,
            Exposure.run == experiment.run,
            Exposure.attributes.is_not(None),
        )
    ).all()
    for unit_id, attrs in attributes:
        unit = by_id.get(unit_id)
        if unit is not None and attrs:
            unit.attributes = {**(unit.attributes or {}), **attrs}
    _read_events(experiment, options, by_id, rollup.watermark)
    return list(by_id.values())


def _touchpoint_flag(value: Any) -> bool | str | None:
    """The ``touchpoint`` property as read from the database: True/False, a type
    name, or None when absent (SQLite reads JSON booleans as '1'/'0', PostgreSQL
    as 'true'/'false'; so a type cannot be named "0" or "1")."""
    if value is None:
        return None
    text = str(value)
    if text in ("1", "true", "True"):
        return True
    if text in ("0", "false", "False"):
        return False
    return text


def _read_events(
    experiment: Experiment, options: Options, by_id: dict[str, UnitData], up_to: int
) -> None:
    """Fill each unit's touches, conversion time, and (when its attributes do not
    say) rep and customer from its events inside the metric window, in one scan
    of the events matched to the rollup's units."""
    metric = options.metric
    conversions = set(metric.event_types)
    excluded = conversions | set(metric.denominator_event_types or [])
    excluded |= NEVER_TOUCHPOINTS
    listed = set(options.touchpoint_types) - excluded
    units_ = analysis.rollup_units(experiment)
    end = analysis.add_days(units_.c.exposed_at, metric.window_days)
    occurred_at = Event.occurred_at
    if db.session.get_bind().dialect.name == "sqlite":
        # No index on the time: scan the events once, each looking its unit up
        # (as analysis._contributions does).
        occurred_at = occurred_at.op("||")(sa.literal(""))
    flag = Event.properties["touchpoint"].as_string()
    query = (
        sa.select(
            Event.unit_id,
            Event.type,
            Event.occurred_at,
            Event.rep_id,
            Event.customer_id,
            flag,
        )
        .join(units_, units_.c.unit_id == Event.unit_id)
        .where(
            Event.id <= up_to,
            occurred_at >= units_.c.exposed_at,
            occurred_at < end,
            sa.or_(Event.type.in_(sorted(listed | conversions)), flag.is_not(None)),
        )
    )
    reps: dict[str, Counter] = defaultdict(Counter)
    customers: dict[str, Counter] = defaultdict(Counter)
    for unit_id, kind, at, rep_id, customer_id, raw_flag in db.session.execute(query):
        unit = by_id[unit_id]
        if rep_id:
            reps[unit_id][rep_id] += 1
        if customer_id:
            customers[unit_id][customer_id] += 1
        if kind in conversions:
            if unit.converted_at is None or at < unit.converted_at:
                unit.converted_at = at
            continue
        if kind in excluded:
            continue
        touch = _touchpoint_flag(raw_flag)
        if touch is False or (touch is None and kind not in listed):
            continue
        unit.touches.append((kind if touch is True or touch is None else touch, at))
    for unit in by_id.values():
        attrs = unit.attributes or {}
        unit.rep = _identity(attrs.get("rep_id"), reps.get(unit.unit_id))
        unit.customer = _identity(attrs.get("customer_id"), customers.get(unit.unit_id))
        if experiment.unit_type == UnitType.CUSTOMER:
            unit.customer = unit.unit_id
        elif experiment.unit_type == UnitType.REP:
            unit.rep = unit.unit_id


def _identity(given: Any, seen: Counter | None) -> str | None:
    """The attribute's value, else the most frequent value on the events (ties:
    the smallest, so the answer does not depend on the scan order)."""
    if given not in (None, ""):
        return str(given)
    if not seen:
        return None
    top = max(seen.values())
    return min(value for value, n in seen.items() if n == top)


def compute(experiment: Experiment, options: Options) -> dict[str, Any]:
    """The attribution payload (no cache): see the module docstring. Shares are
    fractions summing to 1 per method; effects are in the metric's units."""
    metric = options.metric
    control = experiment.control.key
    data = units(experiment, options)
    notes: list[str] = []
    if metric.kind == MetricKind.RATIO:
        notes.append(messages.RATIO_NUMERATOR)
    linear_probability = metric.kind == MetricKind.PROPORTION
    variance = None
    if any(u.variant == control for u in data) and any(
        u.variant != control for u in data
    ):
        cells = cells_from_units(
            [u.outcome for u in data],
            [u.variant for u in data],
            [u.rep or "" for u in data],
            [u.customer or f"unit:{u.unit_id}" for u in data],
        )
        variance = variance_decomposition(
            cells,
            control,
            alpha=experiment.alpha,
            linear_probability=linear_probability,
        )
        notes += variance.warnings
    else:
        notes.append(messages.NO_UNITS)
    if any(u.rep is None for u in data):
        notes.append(messages.UNITS_WITHOUT_REP)

    rep_names = _names(data)
    reps, rep_notes = _group_effects(
        experiment, data, lambda u: u.rep, "rep", rep_names
    )
    notes += rep_notes
    available = _segment_dimensions(data)
    segment = options.segment
    if segment is None and DEFAULT_SEGMENT in available:
        segment = DEFAULT_SEGMENT
    if segment is not None and segment not in available:
        raise Invalid("segment", "Not a unit attribute with 2 to 20 values.")
    segments = None
    if segment is not None:
        groups, segment_notes = _group_effects(
            experiment,
            data,
            lambda u: _text((u.attributes or {}).get(segment)),
            "segment",
        )
        notes += segment_notes
        segments = {"dimension": segment, "available": available, "groups": groups}
    elif available:
        segments = {"dimension": None, "available": available, "groups": []}

    touchpoints, details = {}, {}
    for variant in experiment.variants:
        paths = [u.path(metric.window_days) for u in data if u.variant == variant.key]
        result = attribute(paths, half_life=options.half_life)
        touchpoints[variant.key] = result.shares()
        details[variant.key] = result.to_dict()
        for method in result.methods.values():
            if method.reason:
                notes.append(method.reason)

    return clean(
        {
            "experiment": experiment.key,
            "run": experiment.run,
            "computed_at": utcnow().isoformat(),
            "metric": {
                "key": metric.key,
                "name": {"zh": metric.name_zh, "en": metric.name_en},
                "kind": metric.kind,
                "direction": metric.direction,
                "window_days": metric.window_days,
            },
            "control": control,
            "variants": [v.key for v in experiment.variants],
            "units": len(data),
            "levels": variance.levels if variance else None,
            "treatment_effect": (
                {k: v.to_dict() for k, v in variance.treatment_effects.items()}
                if variance
                else {}
            ),
            "variance": variance.to_dict() if variance else None,
            "reps": reps,
            "segments": segments,
            "touchpoints": touchpoints,
            "touchpoint_details": details,
            "touchpoint_types": list(options.touchpoint_types),
            "half_life": options.half_life,
            "methods": list(METHODS),
            "notes": list(dict.fromkeys(notes)),
        }
    )


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _names(data: list[UnitData]) -> dict[str, str]:
    """Rep id → the ``rep_name`` attribute seen with it (when any)."""
    names: dict[str, str] = {}
    for unit in data:
        name = (unit.attributes or {}).get("rep_name")
        if unit.rep and name:
            names.setdefault(unit.rep, str(name))
    return names


def _segment_dimensions(data: list[UnitData]) -> list[str]:
    """Exposure attributes usable as segments: 2 to MAX_SEGMENT_LEVELS values."""
    levels: dict[str, set[str]] = defaultdict(set)
    for unit in data:
        for name, value in (unit.attributes or {}).items():
            if (
                name not in IDENTITY_ATTRIBUTES
                and _text(value) is not None
                and len(levels[name]) <= MAX_SEGMENT_LEVELS
            ):
                levels[name].add(str(value))
    return sorted(
        name for name, seen in levels.items() if 2 <= len(seen) <= MAX_SEGMENT_LEVELS
    )


def _group_effects(
    experiment: Experiment,
    data: list[UnitData],
    group_of,
    label: str,
    names: dict[str, str] | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Per group (rep or segment) and treatment: raw and shrunk effects against
    control (multilevel.shrink_effects), as API entries; and its warnings."""
    control = experiment.control.key
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    for unit in data:
        group = group_of(unit)
        if group is not None:
            values[group, unit.variant].append(unit.outcome)
    groups = sorted({group for group, _ in values})
    entries, notes = [], []
    for variant in experiment.variants:
        if variant.key == control:
            continue
        pairs = {
            group: (
                SampleStats.from_values(values.get((group, control), [])),
                SampleStats.from_values(values.get((group, variant.key), [])),
            )
            for group in groups
        }
        if not pairs:
            continue
        shrunk = shrink_effects(pairs, alpha=experiment.alpha)
        notes += shrunk.warnings
        for effect in shrunk.groups:
            entry = {label: effect.group, "variant": variant.key, **effect.to_dict()}
            del entry["group"]
            if names is not None:
                entry["name"] = names.get(effect.group, effect.group)
            entry["overall"] = shrunk.overall.to_dict()
            entry["tau2"] = shrunk.tau2
            entries.append(entry)
    return entries, notes
