"""Sufficient statistics from the database: the SQL half of the analysis.

For one experiment (its current run) and one metric, a single query computes per
variant n, Σx, Σx² and, for CUPED covariates and ratio denominators, Σy, Σy², Σxy:

1. eligible units: exposures of the run, one row per unit, units exposed to more
   than one variant left out (they are counted separately);
2. per unit: the metric's events of the unit inside the window after its first
   exposure (``window_days``), and for CUPED the same aggregation over the
   lookback before it; proportions become 0/1; values are capped as configured;
3. per variant: the sums.

SQLAlchemy Core only, the same code on SQLite and PostgreSQL; the two dialect
differences (adding days to a timestamp, the smaller of two numbers) are the
helpers below. Percentile caps take the quantile of the per-unit values with
ORDER BY … LIMIT 1 OFFSET k, which every SQL database can do.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from experiments.models import (
    Aggregate,
    CapKind,
    Event,
    Experiment,
    Exposure,
    Metric,
    MetricKind,
)
from experiments.stats import SampleStats
from proving_ground.db import db, local_day


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def add_days(column: sa.ColumnElement, days: int) -> sa.ColumnElement:
    """``column`` + ``days`` days, comparable with stored timestamps."""
    if _dialect() == "sqlite":
        # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff'; %f gives 'SS.SSS', which sorts
        # within a millisecond of the stored text.
        return sa.func.strftime("%Y-%m-%d %H:%M:%f", column, f"{int(days):+d} days")
    return column + sa.func.make_interval(0, 0, 0, int(days))


def smaller(a: sa.ColumnElement, b) -> sa.ColumnElement:
    """The smaller of two numbers (SQLite's two-argument min, PostgreSQL's LEAST)."""
    return sa.func.min(a, b) if _dialect() == "sqlite" else sa.func.least(a, b)


def eligible_units(experiment: Experiment) -> sa.Subquery:
    """One row per unit exposed to exactly one variant in the current run:
    unit_id, variant, exposed_at (its first exposure)."""
    return (
        sa.select(
            Exposure.unit_id.label("unit_id"),
            sa.func.min(Exposure.variant_key).label("variant"),
            sa.func.min(Exposure.first_exposed_at).label("exposed_at"),
        )
        .where(Exposure.experiment_id == experiment.id, Exposure.run == experiment.run)
        .group_by(Exposure.unit_id)
        .having(sa.func.count(sa.distinct(Exposure.variant_key)) == 1)
        .subquery("units")
    )


@dataclass(frozen=True)
class ExposureCounts:
    """Units per variant (exposed to one variant only) and the multiply exposed."""

    per_variant: dict[str, int]
    multiple: int


def exposure_counts(experiment: Experiment) -> ExposureCounts:
    units = eligible_units(experiment)
    rows = db.session.execute(
        sa.select(units.c.variant, sa.func.count()).group_by(units.c.variant)
    ).all()
    per_variant = {v.key: 0 for v in experiment.variants} | dict(rows)
    multi = (
        sa.select(Exposure.unit_id)
        .where(Exposure.experiment_id == experiment.id, Exposure.run == experiment.run)
        .group_by(Exposure.unit_id)
        .having(sa.func.count(sa.distinct(Exposure.variant_key)) > 1)
        .subquery()
    )
    multiple = db.session.scalar(sa.select(sa.func.count()).select_from(multi)) or 0
    return ExposureCounts(per_variant, multiple)


def _aggregate(
    types: list[str],
    aggregate: str,
    start: sa.ColumnElement,
    end: sa.ColumnElement,
) -> sa.ColumnElement:
    """Per unit: the count, or the sum of values, of its events of ``types`` in
    [start, end)."""
    inside = sa.and_(
        Event.type.in_(types), Event.occurred_at >= start, Event.occurred_at < end
    )
    amount = Event.value if aggregate == Aggregate.SUM else sa.literal(1.0)
    return sa.func.coalesce(sa.func.sum(sa.case((inside, amount), else_=0.0)), 0.0)


def unit_values(
    experiment: Experiment, metric: Metric, *, cuped: bool, by_day: bool = False
) -> sa.Subquery:
    """Per eligible unit: variant, x (the metric value, or a ratio's numerator) and
    y (the CUPED covariate, or a ratio's denominator; 0 when neither applies).

    The events are read in one pass and matched to the units (a hash join on
    PostgreSQL, an automatic index on the units on SQLite), then the per-unit
    sums are joined back to all units so that units without events count as 0.
    Matching the other way round — each unit looking up its events — would need an
    index on events.unit_id, which would slow ingestion.
    """
    units = eligible_units(experiment).element.cte("units")
    window_end = add_days(units.c.exposed_at, metric.window_days)
    lookback = metric.cuped_lookback_days if cuped else None
    ratio = metric.kind == MetricKind.RATIO
    earliest = units.c.exposed_at
    if ratio:
        types = list({*metric.event_types, *(metric.denominator_event_types or [])})
    else:
        types = list(metric.event_types)
        if lookback:
            earliest = add_days(units.c.exposed_at, -lookback)
    x = _aggregate(metric.event_types, metric.aggregate, units.c.exposed_at, window_end)
    if ratio:
        y = _aggregate(
            metric.denominator_event_types or [],
            metric.denominator_aggregate or Aggregate.COUNT,
            units.c.exposed_at,
            window_end,
        )
    elif lookback:
        y = _aggregate(
            metric.event_types, metric.aggregate, earliest, units.c.exposed_at
        )
    else:
        y = sa.literal(0.0)
    per_unit = (
        sa.select(Event.unit_id.label("unit_id"), x.label("x"), y.label("y"))
        .select_from(Event)
        .join(units, units.c.unit_id == Event.unit_id)
        .where(
            Event.type.in_(types),
            Event.occurred_at >= earliest,
            Event.occurred_at < window_end,
        )
        .group_by(Event.unit_id)
        .subquery("per_unit")
    )
    unit_x = sa.func.coalesce(per_unit.c.x, 0.0)
    unit_y = sa.func.coalesce(per_unit.c.y, 0.0)
    if metric.kind == MetricKind.PROPORTION:
        unit_x = sa.case((unit_x > 0, 1.0), else_=0.0)
        if lookback:
            unit_y = sa.case((unit_y > 0, 1.0), else_=0.0)
    columns = [units.c.variant.label("variant"), unit_x.label("x"), unit_y.label("y")]
    if by_day:
        columns.append(local_day(units.c.exposed_at).label("day"))
    return (
        sa.select(*columns)
        .select_from(units.outerjoin(per_unit, per_unit.c.unit_id == units.c.unit_id))
        .subquery("unit_values")
    )


def _quantile(values: sa.Subquery, column: str, q: float) -> float | None:
    """The ``q`` quantile (lower, 0 < q < 1) of a per-unit column."""
    n = db.session.scalar(sa.select(sa.func.count()).select_from(values))
    if not n:
        return None
    offset = int(q * (n - 1))
    return db.session.scalar(
        sa.select(values.c[column]).order_by(values.c[column]).limit(1).offset(offset)
    )


def _cap(experiment: Experiment, metric: Metric, values: sa.Subquery):
    """The capped x and y columns of per-unit values."""
    x, y = values.c.x, values.c.y
    cap = None
    if metric.cap_kind == CapKind.ABSOLUTE:
        cap = metric.cap_value
    elif metric.cap_kind == CapKind.PERCENTILE and metric.kind != MetricKind.PROPORTION:
        cap = _quantile(values, "x", metric.cap_value)
    if cap is not None:
        x = smaller(x, cap)
        if metric.kind != MetricKind.RATIO:
            y = smaller(y, cap)
    return x, y


def _sums(x, y) -> list:
    return [
        sa.func.count(),
        sa.func.sum(x),
        sa.func.sum(x * x),
        sa.func.sum(y),
        sa.func.sum(y * y),
        sa.func.sum(x * y),
    ]


def _sample(n, sx, sxx, sy, syy, sxy) -> SampleStats:
    return SampleStats(
        n=int(n),
        sum=float(sx or 0),
        sum_sq=float(sxx or 0),
        y_sum=float(sy or 0),
        y_sum_sq=float(syy or 0),
        xy_sum=float(sxy or 0),
    )


def daily_variant_stats(
    experiment: Experiment, metric: Metric, *, cuped: bool = False
) -> list[tuple[str, dict[str, SampleStats]]]:
    """Cumulative sufficient statistics by exposure day (display time zone): for
    each day, the statistics of the units exposed up to and including it. Each
    unit's value covers its whole window as observed now."""
    values = unit_values(experiment, metric, cuped=cuped, by_day=True)
    x, y = _cap(experiment, metric, values)
    rows = db.session.execute(
        sa.select(values.c.day, values.c.variant, *_sums(x, y))
        .group_by(values.c.day, values.c.variant)
        .order_by(values.c.day)
    ).all()
    running = {v.key: [0, 0.0, 0.0, 0.0, 0.0, 0.0] for v in experiment.variants}
    days: list[tuple[str, dict[str, SampleStats]]] = []
    for day, variant, *sums in rows:
        if variant in running:
            running[variant] = [
                a + float(b or 0) for a, b in zip(running[variant], sums, strict=True)
            ]
        snapshot = {k: _sample(*v) for k, v in running.items()}
        if days and days[-1][0] == str(day):
            days[-1] = (str(day), snapshot)
        else:
            days.append((str(day), snapshot))
    return days


def variant_stats(
    experiment: Experiment, metric: Metric, *, cuped: bool = False
) -> dict[str, SampleStats]:
    """Sufficient statistics per variant key for one metric (see module doc).

    Variants without units get ``SampleStats(0, 0, 0)``. Capping applies to x and,
    for CUPED, to the covariate with the same cap.
    """
    values = unit_values(experiment, metric, cuped=cuped)
    x, y = _cap(experiment, metric, values)
    rows = db.session.execute(
        sa.select(values.c.variant, *_sums(x, y)).group_by(values.c.variant)
    ).all()
    stats = {v.key: SampleStats(0, 0.0, 0.0) for v in experiment.variants}
    for variant, *sums in rows:
        stats[variant] = _sample(*sums)
    return stats
