"""Results broken down by a dimension (细分): the main analysis per segment.

A dimension is either

* a **unit attribute**, named as it is stored (``region``, ``rep_id``): a key of the
  attributes recorded with the unit's exposure (Exposure.attributes), or
* an **event property**, named ``event.<property>`` (``event.duration_min``): the
  unit's level is the property's value on its earliest event (by time, then by
  event id) that carries the property and lies inside the metric window, from the
  unit's first exposure up to the longest ``window_days`` of the experiment's
  metrics. Such a level is observed after exposure, so the treatment may have
  changed it and the segments need not compare like with like (the payload says
  so: :data:`stats.messages.SEGMENT_AFTER_EXPOSURE`).

Levels are text (numbers as the database prints them, booleans ``true`` and
``false``). The 20 levels with the most units are shown on their own (ties by
level), the other levels pooled as ``(other)`` and units without a value as
``(none)``: every analysed unit is in exactly one segment, so the segments' units
add up to the main analysis's.

Each segment gets the main analysis on its units' sufficient statistics: the same
per-unit values from the rollup (analysis.py), the same caps (computed over all
units, so that a dimension with one level reproduces the main results exactly),
the comparison code of results.py (CUPED and sequential intervals as the options
say) and the SRM check of its unit counts. The multiple-testing correction (the
options' Holm or Benjamini–Hochberg) runs over every comparison shown: all
segments × metrics × treatments. The database groups; Python sees a few numbers
per segment and variant.
"""

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from experiments import analysis, stats
from experiments import results as results_service
from experiments.models import (
    Event,
    Experiment,
    Exposure,
)
from proving_ground.db import db, utcnow
from proving_ground.validation import Invalid

#: Levels shown on their own; the others are pooled as OTHER.
TOP_LEVELS = 20
OTHER = "(other)"
NONE = "(none)"
EVENT_PREFIX = "event."
#: The dimensions offered are the keys on the run's latest this many exposures
#: and on its units' latest this many events with properties (reading every
#: JSON document of a million units takes seconds). Others can still be asked for.
SAMPLE = 20_000
MAX_NAME = 100
#: Words by which pre-registered text may name common dimensions (GLOSSARY).
SYNONYMS = {
    "region": ("region", "区域", "地区"),
    "industry": ("industry", "行业"),
    "customer_type": ("customer type", "客户类型"),
    "rep_id": ("rep", "sales rep", "销售代表"),
    "rep_name": ("rep", "sales rep", "销售代表"),
    "deal_size_band": ("deal size", "deal size band", "金额区间", "交易规模"),
}


@dataclass(frozen=True)
class Dimension:
    """What the results are broken down by: ``source`` ``attribute`` (a key of
    Exposure.attributes) or ``event`` (an event property); ``key`` its name."""

    source: str
    key: str

    @property
    def name(self) -> str:
        """The dimension as the API names it: ``region``, ``event.duration_min``."""
        return (EVENT_PREFIX if self.source == "event" else "") + self.key

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "source": self.source, "key": self.key}


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _json_text(column: sa.ColumnElement, key: str) -> sa.ColumnElement:
    """The value of ``key`` in a JSON object column as text: NULL when missing,
    null or empty; booleans ``true``/``false`` on both databases."""
    if _dialect() == "sqlite":
        path = '$."' + key.replace('"', '\\"') + '"'
        # The value's JSON text (no json_type calls), then its SQL value as text.
        raw = column.op("->")(path)
        value = sa.case(
            {"true": "true", "false": "false", "null": None},
            value=raw,
            else_=sa.cast(sa.func.json_extract(raw, "$"), sa.Text),
        )
    else:
        value = sa.func.json_extract_path_text(column, key)
    return sa.func.nullif(value, "")


def _json_keys(rows: sa.Subquery, column: str) -> list[str]:
    """The distinct keys of the JSON objects in ``rows.c[column]``, sorted."""
    objects = rows.c[column]
    if _dialect() == "sqlite":
        each = sa.func.json_each(objects).table_valued("key")
        query = (
            sa.select(each.c.key)
            .select_from(rows)
            .join(each, sa.true())
            .where(sa.func.json_type(objects) == "object")
        )
    else:
        query = sa.select(sa.func.json_object_keys(objects)).where(
            sa.func.json_typeof(objects) == "object"
        )
    return sorted({str(key) for key in db.session.scalars(query.distinct())})


def _run_exposures(experiment: Experiment) -> sa.ColumnElement:
    return sa.and_(
        Exposure.experiment_id == experiment.id, Exposure.run == experiment.run
    )


def dimensions(experiment: Experiment) -> list[Dimension]:
    """The dimensions offered: the attribute keys on the run's latest SAMPLE
    exposures, then the property keys on the latest SAMPLE events (with
    properties) of its units."""
    attributes = (
        sa.select(Exposure.attributes.label("doc"))
        .where(_run_exposures(experiment), Exposure.attributes.is_not(None))
        .order_by(Exposure.id.desc())
        .limit(SAMPLE)
        .subquery("attributes")
    )
    units = sa.select(Exposure.unit_id).where(_run_exposures(experiment))
    latest = (
        sa.select(Event.properties.label("doc"))
        .where(Event.properties.is_not(None), Event.unit_id.in_(units))
        .order_by(Event.id.desc())
        .limit(SAMPLE)
        .subquery("latest")
    )
    return [Dimension("attribute", key) for key in _json_keys(attributes, "doc")] + [
        Dimension("event", key) for key in _json_keys(latest, "doc")
    ]


def _has_values(experiment: Experiment, dimension: Dimension) -> bool:
    """Whether any exposure of the run (any event of its units) has the key."""
    if dimension.source == "attribute":
        where = [
            _run_exposures(experiment),
            _json_text(Exposure.attributes, dimension.key).is_not(None),
        ]
    else:
        units = sa.select(Exposure.unit_id).where(_run_exposures(experiment))
        where = [
            Event.properties.is_not(None),
            _json_text(Event.properties, dimension.key).is_not(None),
            Event.unit_id.in_(units),
        ]
    table = Exposure if dimension.source == "attribute" else Event
    return bool(
        db.session.scalar(sa.select(sa.exists().where(*where).select_from(table)))
    )


def dimension_of(experiment: Experiment, name: str | None) -> Dimension:
    """The dimension called ``name`` (``region`` or ``event.<property>``).

    Raises Invalid (400, field ``dimension``) when no exposure of the run has
    that attribute and no event of its units that property."""
    name = (name or "").strip()
    if name.startswith(EVENT_PREFIX):
        dimension = Dimension("event", name[len(EVENT_PREFIX) :])
    else:
        dimension = Dimension("attribute", name)
    if (
        not dimension.key
        or len(name) > MAX_NAME
        or not _has_values(experiment, dimension)
    ):
        raise Invalid(
            "dimension",
            f"No unit attribute or event property {name!r} in this experiment's "
            "data: see GET /api/v1/experiments/<key>/results/dimensions.",
            status=400,
        )
    return dimension


def pre_registered_in(experiment: Experiment, dimension: Dimension) -> list[str]:
    """The design's pre-registered texts (``hypothesis``, ``success_criteria``,
    ``early_stop_criteria``) that name the dimension (its key, or a common word
    for it in English or Chinese)."""
    words = {dimension.key, dimension.key.replace("_", " ")}
    words.update(SYNONYMS.get(dimension.key, ()))
    pattern = re.compile(
        "|".join(rf"(?<![\w]){re.escape(w)}(?![\w])" for w in sorted(words)),
        re.IGNORECASE,
    )
    texts = {
        "hypothesis": " ".join(
            [
                experiment.hypothesis_if,
                experiment.hypothesis_then,
                experiment.hypothesis_because,
            ]
        ),
        "success_criteria": experiment.success_criteria,
        "early_stop_criteria": experiment.early_stop_criteria,
    }
    return [name for name, text in texts.items() if pattern.search(text or "")]


# --- the SQL: levels of the units, sufficient statistics per segment -----------------


def _earliest_level(
    occurred_at: sa.ColumnElement, event_id: sa.ColumnElement, level: sa.ColumnElement
) -> tuple[sa.ColumnElement, int]:
    """An aggregate over a unit's events whose smallest value starts with the
    event's time and id (fixed width, so that the earliest event sorts first)
    and ends with its level (NULL when it has none); and where the level starts
    (1-based), to take it back out with substr."""
    if _dialect() == "sqlite":
        # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (26 characters).
        key = occurred_at.op("||")(sa.func.printf("%020d", event_id))
    else:
        when = sa.func.to_char(
            sa.func.timezone("UTC", occurred_at), "YYYY-MM-DD HH24:MI:SS.US"
        )
        key = when.op("||")(sa.func.lpad(sa.cast(event_id, sa.Text), 20, "0"))
    value = key.op("||")(level)
    if _dialect() == "postgresql":
        value = value.self_group().collate("C")  # byte order, whatever the locale
    return sa.func.min(value), 26 + 20 + 1


def _fill_levels(
    temporary: analysis.Temporary, experiment: Experiment, dimension: Dimension
) -> sa.Table:
    """A temporary table of the rollup's analysed units: unit_id, variant and the
    raw level (NULL when the unit has none)."""
    table = temporary.create(
        "segment_units",
        sa.Column("unit_id", sa.String(128), primary_key=True),
        sa.Column("variant", sa.String(64), nullable=False),
        sa.Column("level", sa.Text),
        sqlite_with_rowid=False,  # one B-tree keyed by unit
    )
    units = analysis.rollup_units(experiment)
    if dimension.source == "attribute":
        # An analysed unit has one exposure row in the run: its only variant's.
        exposure = sa.and_(
            _run_exposures(experiment),
            Exposure.unit_id == units.c.unit_id,
            Exposure.variant_key == units.c.variant,
        )
        temporary.fill(
            table,
            sa.select(
                units.c.unit_id,
                units.c.variant,
                _json_text(Exposure.attributes, dimension.key),
            ).select_from(units.outerjoin(Exposure, exposure)),
        )
        return table
    window = max(
        (link.metric.window_days for link in experiment.metric_links), default=30
    )
    windows = temporary.create(
        "segment_windows",
        sa.Column("unit_id", sa.String(128), primary_key=True),
        sa.Column("variant", sa.String(64), nullable=False),
        sa.Column("starts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends", sa.DateTime(timezone=True), nullable=False),
        # One B-tree keyed by unit: each event's lookup is one search.
        sqlite_with_rowid=False,
    )
    temporary.fill(
        windows,
        sa.select(
            units.c.unit_id,
            units.c.variant,
            units.c.exposed_at,
            analysis.add_days(units.c.exposed_at, window),
        ),
    )
    occurred_at = Event.occurred_at
    if _dialect() == "sqlite":
        # As in analysis._contributions: scan the events once, look units up.
        occurred_at = occurred_at.op("||")(sa.literal(""))
    earliest, start = _earliest_level(
        Event.occurred_at, Event.id, _json_text(Event.properties, dimension.key)
    )
    first = (
        sa.select(Event.unit_id.label("unit_id"), earliest.label("earliest"))
        .select_from(Event)
        .join(windows, windows.c.unit_id == Event.unit_id)
        .where(
            Event.properties.is_not(None),
            occurred_at >= windows.c.starts,
            occurred_at < windows.c.ends,
        )
        .group_by(Event.unit_id)
        .subquery("first")
    )
    temporary.fill(
        table,
        sa.select(
            windows.c.unit_id,
            windows.c.variant,
            sa.func.substr(first.c.earliest, start),
        ).select_from(windows.outerjoin(first, first.c.unit_id == windows.c.unit_id)),
    )
    return table


@dataclass(frozen=True)
class Levels:
    """The segments of a dimension: ``top`` levels in order of units, then OTHER
    and NONE; ``distinct`` the number of distinct levels."""

    top: list[str]
    distinct: int

    @property
    def labels(self) -> list[str]:
        return [*self.top, OTHER, NONE]

    def index(self, level: sa.ColumnElement) -> sa.ColumnElement:
        """The segment's position in ``labels`` for a raw level column."""
        missing = sa.case((level.is_(None), len(self.top) + 1), else_=len(self.top))
        if not self.top:
            return missing
        return sa.case(
            {value: i for i, value in enumerate(self.top)}, value=level, else_=missing
        )


def _levels(units: sa.Table) -> Levels:
    """The TOP_LEVELS levels with the most units and the number of levels, from
    one grouping of the units."""
    per_level = (
        sa.select(units.c.level, sa.func.count().label("n"))
        .where(units.c.level.is_not(None))
        .group_by(units.c.level)
        .subquery("per_level")
    )
    top = db.session.execute(
        sa.select(per_level.c.level, sa.func.count().over().label("distinct_levels"))
        .order_by(per_level.c.n.desc(), per_level.c.level)
        .limit(TOP_LEVELS)
    ).all()
    distinct = top[0].distinct_levels if top else 0
    return Levels([str(level) for level, _distinct in top], int(distinct))


def segment_statistics(
    experiment: Experiment, options: results_service.Options, dimension: Dimension
) -> tuple[Levels, list[dict[str, int]], dict[str, list[dict[str, Any]]]]:
    """The SQL half: the levels, units per variant of each segment (in the order
    of ``Levels.labels``) and, per metric key, each segment's SampleStats per
    variant key (CUPED covariates when the options and the metric call for them)."""
    rollup = analysis.refresh(experiment)
    temporary = analysis.Temporary()
    units = _fill_levels(temporary, experiment, dimension)
    levels = _levels(units)
    keys = [v.key for v in experiment.variants]
    size = len(levels.labels)
    counts: list[dict[str, int]] = [dict.fromkeys(keys, 0) for _ in range(size)]
    segment = levels.index(units.c.level).label("segment")
    segments = sa.select(segment, units.c.variant).subquery("segment_units")
    for index, variant, n in db.session.execute(
        sa.select(segments.c.segment, segments.c.variant, sa.func.count()).group_by(
            segments.c.segment, segments.c.variant
        )
    ):
        counts[index][variant] = int(n)
    by_metric: dict[str, list[dict[str, Any]]] = {}
    # One query per metric: its sums then add up in the order of the main
    # analysis's, so that a dimension with one level reproduces it exactly.
    for metric in analysis.metrics_of(experiment):
        values = analysis.unit_values(
            experiment,
            metric,
            cuped=results_service.uses_cuped(metric, options),
            rollup=rollup,
        )
        rows = (
            sa.select(segment, values.rows.c.variant, values.rows.c.x, values.rows.c.y)
            .select_from(values.rows)
            .join(units, units.c.unit_id == values.rows.c.unit_id)
            .subquery("segment_values")
        )
        sums = {
            (index, variant): aggregates
            for index, variant, *aggregates in db.session.execute(
                sa.select(rows.c.segment, rows.c.variant)
                .add_columns(*values.sums(rows))
                .group_by(rows.c.segment, rows.c.variant)
            )
        }
        by_metric[metric.key] = [
            {
                variant: values.sample(
                    sums.get((index, variant)), counts[index][variant]
                )
                for variant in keys
            }
            for index in range(size)
        ]
    temporary.drop()
    return levels, counts, by_metric


# --- the statistics: results.compute per segment ---------------------------------


def compute(
    experiment: Experiment, options: results_service.Options, dimension: Dimension
) -> dict[str, Any]:
    """The segments payload (no cache): ``dimension``, ``source``, ``warning`` (a
    code of stats.messages: exploratory, or pre-registered with the texts that
    name the dimension in ``pre_registered_in``), ``notes`` (further codes),
    ``levels`` (distinct levels), ``units`` (all analysed units), ``correction``
    and ``segments``: per segment ``level``, ``kind`` (``level``, ``other`` or
    ``none``), ``units`` and ``srm`` and ``results``, the results payload's shape
    without a recommendation (segments do not decide), whose
    ``adjusted_p_value`` is corrected across all segments × metrics ×
    treatments shown. Segments without units are left out."""
    levels, counts, by_metric = segment_statistics(experiment, options, dimension)
    weights = {v.key: v.weight for v in experiment.variants}
    cluster = dimension.source == "attribute" and (
        dimension.key == experiment.cluster_attribute
    )
    family: list[tuple[dict[str, Any], float | None]] = []
    segments = []
    kinds = ["level"] * len(levels.top) + ["other", "none"]
    for index, label in enumerate(levels.labels):
        per_variant = counts[index]
        units = sum(per_variant.values())
        if not units:
            continue
        srm = stats.srm(per_variant, weights)
        warnings = []
        if srm.flag and not cluster:
            warnings.append(stats.messages.SRM)
        if any(n < results_service.LOW_SAMPLE for n in per_variant.values()):
            warnings.append(stats.messages.LOW_SAMPLE)
        metrics = results_service.assemble(
            experiment,
            options,
            lambda metric, index=index: by_metric[metric.key][index],
            family,
        )
        srm_json = srm.to_dict()
        if cluster:
            # Whole clusters share a variant: a unit-level χ² test says nothing.
            srm_json.update(p_value=None, chi2=None, flag=False)
        segments.append(
            {
                "level": label,
                "kind": kinds[index],
                "units": units,
                "srm": srm_json,
                "results": {
                    "experiment": experiment.key,
                    "run": experiment.run,
                    "options": results_service.options_payload(experiment, options),
                    "srm": srm_json,
                    "units": {"per_variant": per_variant, "multiple_exposures": 0},
                    "metrics": metrics,
                    "warnings": warnings,
                },
            }
        )
    results_service.adjust(family, options.correction)
    named_in = pre_registered_in(experiment, dimension)
    notes = []
    if dimension.source == "event":
        notes.append(stats.messages.SEGMENT_AFTER_EXPOSURE)
    if cluster:
        notes.append(stats.messages.SEGMENT_IS_CLUSTER)
    if levels.distinct > TOP_LEVELS:
        notes.append(stats.messages.SEGMENT_LEVELS_POOLED)
    return results_service.clean(
        {
            "experiment": experiment.key,
            "dimension": dimension.name,
            "source": dimension.source,
            "warning": (
                stats.messages.SEGMENTS_PRE_REGISTERED
                if named_in
                else stats.messages.SEGMENTS_EXPLORATORY
            ),
            "pre_registered_in": named_in,
            "notes": notes,
            "levels": levels.distinct,
            "units": sum(s["units"] for s in segments),
            "correction": options.correction,
            "computed_at": utcnow().isoformat(),
            "segments": segments,
        }
    )


def segment_results(
    experiment: Experiment, options: results_service.Options, name: str | None
) -> dict[str, Any]:
    """The segments payload of the dimension ``name`` (see :func:`compute`), from
    the results cache when nothing has changed. Raises Invalid (400, field
    ``dimension``) for a dimension without data."""
    if not experiment.variants or experiment.control is None:
        raise Invalid("experiment", "The experiment has no control variant.")
    dimension = dimension_of(experiment, name)
    digest = hashlib.sha256(dimension.name.encode()).hexdigest()[:32]
    return results_service.cached(
        experiment,
        f"{options.key()}&segments={digest}",
        lambda: compute(experiment, options, dimension),
    )
