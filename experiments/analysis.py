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

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from experiments.ingest import INGEST_LOCK
from experiments.models import (
    Aggregate,
    AnalysisRollup,
    CapKind,
    Event,
    Experiment,
    Exposure,
    ExposureChange,
    Metric,
    MetricKind,
    RollupUnit,
    UnitMetricValue,
)
from experiments.services import dialect_insert, insert_ignoring_duplicates
from experiments.stats import SampleStats
from proving_ground.db import db, local_day, utcnow


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


def reference_exposure_counts(experiment: Experiment) -> ExposureCounts:
    """exposure_counts computed from the exposures (the reference)."""
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
    events: sa.FromClause = Event.__table__,
) -> sa.ColumnElement:
    """Per unit: the count, or the sum of values, of its events of ``types`` in
    [start, end) (``events``: the events table or a table with its columns)."""
    occurred_at = events.c.occurred_at
    inside = sa.and_(events.c.type.in_(types), occurred_at >= start, occurred_at < end)
    amount = events.c.value if aggregate == Aggregate.SUM else sa.literal(1.0)
    return sa.func.coalesce(sa.func.sum(sa.case((inside, amount), else_=0.0)), 0.0)


def reference_unit_values(
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


def reference_daily_variant_stats(
    experiment: Experiment, metric: Metric, *, cuped: bool = False
) -> list[tuple[str, dict[str, SampleStats]]]:
    """daily_variant_stats from the events (the reference): cumulative
    sufficient statistics by exposure day (display time zone)."""
    values = reference_unit_values(experiment, metric, cuped=cuped, by_day=True)
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


def reference_variant_stats(
    experiment: Experiment, metric: Metric, *, cuped: bool = False
) -> dict[str, SampleStats]:
    """variant_stats from the events (the reference): sufficient statistics per
    variant key for one metric.

    Variants without units get ``SampleStats(0, 0, 0)``. Capping applies to x and,
    for CUPED, to the covariate with the same cap.
    """
    values = reference_unit_values(experiment, metric, cuped=cuped)
    x, y = _cap(experiment, metric, values)
    rows = db.session.execute(
        sa.select(values.c.variant, *_sums(x, y)).group_by(values.c.variant)
    ).all()
    stats = {v.key: SampleStats(0, 0.0, 0.0) for v in experiment.variants}
    for variant, *sums in rows:
        stats[variant] = _sample(*sums)
    return stats


# --- the rollup: per-unit values kept per experiment, refreshed incrementally -------

#: Events received longer ago than this are taken to be committed (PostgreSQL).
SETTLE = timedelta(minutes=10)


def metrics_of(experiment: Experiment) -> list[Metric]:
    """The experiment's metrics, each once, by id."""
    by_id = {link.metric.id: link.metric for link in experiment.metric_links}
    return [by_id[key] for key in sorted(by_id)]


def _in_design(experiment: Experiment, metric: Metric) -> bool:
    """Whether the rollup keeps the metric's values (the experiment uses it);
    other metrics are computed from the events."""
    return any(link.metric_id == metric.id for link in experiment.metric_links)


def _lookback(metric: Metric) -> int | None:
    """Days of the CUPED lookback whose values the rollup keeps as ``y``."""
    if metric.kind == MetricKind.RATIO:
        return None
    return metric.cuped_lookback_days or None


def _digest(experiment: Experiment) -> str:
    """What the rollup's values depend on: the run and the metric definitions
    (caps are applied when reading, so they are not part of it)."""
    definition = [experiment.run] + [
        [
            m.id,
            m.kind,
            sorted(m.event_types),
            m.aggregate,
            sorted(m.denominator_event_types or []),
            m.denominator_aggregate,
            m.window_days,
            m.cuped_lookback_days,
        ]
        for m in metrics_of(experiment)
    ]
    return hashlib.sha256(json.dumps(definition).encode()).hexdigest()[:32]


def _bounds(exposed_at: sa.ColumnElement, metrics: list[Metric]) -> dict:
    """Per unit: each metric's window end (``w<days>``) and lookback start
    (``l<days>``), and the earliest (``lo``) and latest (``hi``) of them."""
    bounds = {}
    for metric in metrics:
        bounds[f"w{metric.window_days}"] = add_days(exposed_at, metric.window_days)
        if lookback := _lookback(metric):
            bounds[f"l{lookback}"] = add_days(exposed_at, -lookback)
    starts = [v for k, v in bounds.items() if k.startswith("l")] or [exposed_at]
    ends = [v for k, v in bounds.items() if k.startswith("w")]
    sqlite = _dialect() == "sqlite"
    bounds["lo"] = (
        starts[0]
        if len(starts) == 1
        else (sa.func.min(*starts) if sqlite else sa.func.least(*starts))
    )
    bounds["hi"] = (
        ends[0]
        if len(ends) == 1
        else (sa.func.max(*ends) if sqlite else sa.func.greatest(*ends))
    )
    return bounds


def _contributions(
    metrics: list[Metric],
    events: sa.FromClause,
    units: sa.FromClause,
    bounds: dict,
    *where: sa.ColumnElement,
) -> sa.Select:
    """Per unit of ``units`` with events in ``events`` (the events table, or a
    temporary table of _matched_events, then ``units`` is that table too) that
    match ``where``: unit_id, variant, exposed_at and, per metric, ``x<id>`` and
    ``y<id>`` (the raw values the rollup stores), from one pass over the events."""
    columns = []
    types: set[str] = set()
    exposed_at = units.c.exposed_at
    for metric in metrics:
        end = bounds[f"w{metric.window_days}"]
        types.update(metric.event_types)
        x = _aggregate(metric.event_types, metric.aggregate, exposed_at, end, events)
        if metric.kind == MetricKind.RATIO:
            denominators = metric.denominator_event_types or []
            types.update(denominators)
            aggregate = metric.denominator_aggregate or Aggregate.COUNT
            y = _aggregate(denominators, aggregate, exposed_at, end, events)
        elif lookback := _lookback(metric):
            start = bounds[f"l{lookback}"]
            y = _aggregate(
                metric.event_types, metric.aggregate, start, exposed_at, events
            )
        else:
            y = sa.literal(0.0)
        columns += [x.label(f"x{metric.id}"), y.label(f"y{metric.id}")]
    occurred_at = events.c.occurred_at
    if _dialect() == "sqlite":
        # The same text, but no index: SQLite must scan the events once and look
        # the units up, not range-scan the events' time index once per unit.
        occurred_at = occurred_at.op("||")(sa.literal(""))
    source = events
    if units is not events:
        source = events.join(units, units.c.unit_id == events.c.unit_id)
    return (
        sa.select(units.c.unit_id, units.c.variant, exposed_at, *columns)
        .select_from(source)
        .where(
            events.c.type.in_(sorted(types)),
            occurred_at >= bounds["lo"],
            occurred_at < bounds["hi"],
            *where,
        )
        .group_by(units.c.unit_id, units.c.variant, exposed_at)
    )


def _event_types(metrics: list[Metric]) -> list[str]:
    """The event types that the metrics read."""
    types = set()
    for metric in metrics:
        types.update(metric.event_types)
        if metric.kind == MetricKind.RATIO:
            types.update(metric.denominator_event_types or [])
    return sorted(types)


def _matched_events(
    temporary: "Temporary",
    metrics: list[Metric],
    units: sa.FromClause,
    unit_filter: list[sa.ColumnElement],
    *where: sa.ColumnElement,
) -> sa.Table:
    """A temporary table of the events that the metrics read and that match
    ``where``, each with its unit's variant and first exposure looked up in
    ``units`` (NULL when the unit is not there or fails ``unit_filter``).

    The events are scanned once and each one looks its unit up by primary key
    (correlated subqueries, which every planner runs in that order). A join
    would let SQLite loop over the units instead and range-scan the events once
    per unit: minutes for a few thousand new events and a million units."""

    def lookup(column: sa.ColumnElement) -> sa.ScalarSelect:
        return (
            sa.select(column)
            .where(units.c.unit_id == Event.unit_id, *unit_filter)
            .scalar_subquery()
        )

    table = temporary.create(
        "rollup_matched_events",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("unit_id", sa.String(128), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("variant", sa.String(64)),
        sa.Column("exposed_at", sa.DateTime(timezone=True)),
    )
    temporary.fill(
        table,
        sa.select(
            Event.id,
            Event.unit_id,
            Event.type,
            Event.value,
            Event.occurred_at,
            lookup(units.c.variant),
            lookup(units.c.exposed_at),
        ).where(Event.type.in_(_event_types(metrics)), *where),
    )
    return table


def rollup_units(experiment: Experiment) -> sa.Subquery:
    """The rollup's units that are analysed (exposed to one variant)."""
    return (
        sa.select(RollupUnit.unit_id, RollupUnit.variant, RollupUnit.exposed_at)
        .where(RollupUnit.experiment_id == experiment.id, ~RollupUnit.multiple)
        .subquery("rollup_units")
    )


class Temporary:
    """Temporary tables of one computation (a refresh, a segments query),
    dropped at its end."""

    def __init__(self) -> None:
        self.metadata = sa.MetaData()
        self.tables: list[sa.Table] = []

    def create(self, name: str, *columns: sa.Column, **options) -> sa.Table:
        """A new temporary table (``options``: sa.Table's dialect options)."""
        table = sa.Table(
            name, self.metadata, *columns, prefixes=["TEMPORARY"], **options
        )
        connection = db.session.connection()
        table.drop(connection, checkfirst=True)
        table.create(connection)
        self.tables.append(table)
        return table

    def fill(self, table: sa.Table, select: sa.Select) -> None:
        db.session.execute(sa.insert(table).from_select(list(table.c.keys()), select))
        if _dialect() == "postgresql":  # temporary tables are never auto-analysed
            db.session.execute(sa.text(f"ANALYZE {table.name}"))

    def drop(self) -> None:
        connection = db.session.connection()
        for table in reversed(self.tables):
            table.drop(connection)
        self.tables.clear()


def _wide_table(temporary: Temporary, name: str, metrics: list[Metric]) -> sa.Table:
    """A temporary table with the columns of _contributions."""
    return temporary.create(
        name,
        sa.Column("unit_id", sa.String(128), primary_key=True),
        sa.Column("variant", sa.String(64)),
        sa.Column("exposed_at", sa.DateTime(timezone=True)),
        *(
            sa.Column(f"{part}{metric.id}", sa.Float)
            for metric in metrics
            for part in ("x", "y")
        ),
    )


def _store(experiment: Experiment, metrics: list[Metric], wide: sa.Table, *, add):
    """Write each metric's non-zero values of ``wide`` into unit_metric_values,
    added to the stored ones when ``add`` (the units keep their rows)."""
    table = UnitMetricValue.__table__
    names = ["experiment_id", "metric_id", "unit_id", "variant", "exposed_at", "x", "y"]
    for metric in metrics:
        x, y = wide.c[f"x{metric.id}"], wide.c[f"y{metric.id}"]
        select = sa.select(
            sa.literal(experiment.id),
            sa.literal(metric.id),
            wide.c.unit_id,
            wide.c.variant,
            wide.c.exposed_at,
            x,
            y,
        ).where(sa.or_(x != 0, y != 0))
        if add:
            insert = dialect_insert(table)
            stmt = insert.from_select(names, select).on_conflict_do_update(
                index_elements=["experiment_id", "metric_id", "unit_id"],
                set_={
                    "x": table.c.x + insert.excluded.x,
                    "y": table.c.y + insert.excluded.y,
                },
            )
        else:
            stmt = sa.insert(table).from_select(names, select)
        db.session.execute(stmt)


def _fill(experiment: Experiment, metrics: list[Metric], up_to_id: int) -> None:
    """Compute from scratch the values of all the rollup's analysed units from the
    events up to ``up_to_id``: one scan of the events, each looking its unit up."""
    temporary = Temporary()
    units = rollup_units(experiment)
    bounds = _bounds(units.c.exposed_at, metrics)
    window_type = sa.DateTime(timezone=True)
    unit_table = temporary.create(
        "rollup_fill_units",
        sa.Column("unit_id", sa.String(128), primary_key=True),
        sa.Column("variant", sa.String(64)),
        sa.Column("exposed_at", window_type),
        *(sa.Column(name, window_type) for name in bounds),
    )
    temporary.fill(
        unit_table,
        sa.select(
            units.c.unit_id,
            units.c.variant,
            units.c.exposed_at,
            *(expr.label(name) for name, expr in bounds.items()),
        ),
    )
    wide = _wide_table(temporary, "rollup_fill_values", metrics)
    events = Event.__table__
    stored_bounds = {name: unit_table.c[name] for name in bounds}
    temporary.fill(
        wide,
        _contributions(
            metrics, events, unit_table, stored_bounds, events.c.id <= up_to_id
        ),
    )
    _store(experiment, metrics, wide, add=False)
    temporary.drop()


def _insert_units(experiment: Experiment, dirty=None) -> None:
    """The run's exposed units (only those in ``dirty`` when given) into
    rollup_units: variant, first exposure, whether multiply exposed."""
    select = (
        sa.select(
            sa.literal(experiment.id),
            Exposure.unit_id,
            sa.func.min(Exposure.variant_key),
            sa.func.min(Exposure.first_exposed_at),
            sa.func.min(Exposure.variant_key) != sa.func.max(Exposure.variant_key),
        )
        .where(Exposure.experiment_id == experiment.id, Exposure.run == experiment.run)
        .group_by(Exposure.unit_id)
    )
    if dirty is not None:
        select = select.where(Exposure.unit_id.in_(sa.select(dirty.c.unit_id)))
    names = ["experiment_id", "unit_id", "variant", "exposed_at", "multiple"]
    db.session.execute(sa.insert(RollupUnit).from_select(names, select))


def _settled_bound(after_id: int) -> int:
    """The largest event id up to which every event is committed and visible.

    SQLite serialises writers, so that is the last id. On PostgreSQL ids come
    from a sequence and transactions commit in any order. Every event insert
    holds a shared advisory lock until its transaction ends (ingest.INGEST_LOCK);
    when this can take the lock exclusively, no insert is in flight, so every id
    up to the last one visible to a statement run while holding it is committed.
    When inserts are running, an event received more than SETTLE ago is taken to
    be committed: the bound stops just before the first event past ``after_id``
    received within SETTLE, and later ones are read live."""
    if _dialect() == "sqlite":
        last = db.session.scalar(sa.select(sa.func.max(Event.id))) or 0
        return max(last, after_id)
    connection = db.session.connection()
    quiet = connection.exec_driver_sql(
        "SELECT pg_try_advisory_lock(%(key)s)", {"key": INGEST_LOCK}
    ).scalar()
    try:
        last = db.session.scalar(sa.select(sa.func.max(Event.id))) or 0
    finally:
        if quiet:
            connection.exec_driver_sql(
                "SELECT pg_advisory_unlock(%(key)s)", {"key": INGEST_LOCK}
            )
    if quiet or last <= after_id:
        return max(last, after_id)
    recent = db.session.scalar(
        sa.select(sa.func.min(Event.id)).where(
            Event.id > after_id, Event.received_at >= utcnow() - SETTLE
        )
    )
    return last if recent is None else recent - 1


def _lock(experiment: Experiment) -> AnalysisRollup:
    """The experiment's rollup state, locked until the transaction ends so that
    concurrent refreshes take turns (a new state matches no design)."""
    query = (
        sa.select(AnalysisRollup)
        .where(AnalysisRollup.experiment_id == experiment.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    state = db.session.scalar(query)
    if state is None:
        db.session.execute(
            insert_ignoring_duplicates(AnalysisRollup.__table__, ["experiment_id"]),
            {
                "experiment_id": experiment.id,
                "design": "",
                "event_watermark": 0,
                "last_change_id": 0,
            },
        )
        state = db.session.scalar(query)
    return state


@dataclass(frozen=True)
class Rollup:
    """The rollup after a refresh: events up to ``watermark`` are stored; when
    ``tail``, later ones exist and are added when the values are read."""

    watermark: int
    tail: bool
    #: AnalysisRollup.unit_counts.
    counts: dict


def refresh(experiment: Experiment) -> Rollup:
    """Bring the experiment's rollup up to date (see the module doc)."""
    state = _lock(experiment)
    design = _digest(experiment)
    metrics = metrics_of(experiment)
    rebuild = state.design != design
    changes = db.session.execute(
        sa.delete(ExposureChange)
        .where(ExposureChange.experiment_id == experiment.id)
        .returning(ExposureChange.id, ExposureChange.run, ExposureChange.unit_id)
    ).all()
    up_to = _settled_bound(0 if rebuild else state.event_watermark)
    if rebuild:
        for model in (UnitMetricValue, RollupUnit):
            db.session.execute(
                sa.delete(model).where(model.experiment_id == experiment.id)
            )
        _insert_units(experiment)
        _fill(experiment, metrics, up_to)
        state.design = design
    else:
        if up_to > state.event_watermark:
            _fold(experiment, metrics, state.event_watermark, up_to)
        dirty_units = {unit for _id, run, unit in changes if run == experiment.run}
        if dirty_units:
            _recompute(experiment, metrics, dirty_units, up_to)
    if changes:
        state.last_change_id = max(change_id for change_id, _run, _unit in changes)
    if changes or rebuild or state.unit_counts is None:
        state.unit_counts = _count_units(experiment)
    if state.event_watermark != up_to:
        state.event_watermark = up_to
    db.session.flush()
    last = db.session.scalar(sa.select(sa.func.max(Event.id))) or 0
    return Rollup(up_to, last > up_to, state.unit_counts)


def _count_units(experiment: Experiment) -> dict:
    """The rollup's units counted (AnalysisRollup.unit_counts), in one scan."""
    day = local_day(RollupUnit.exposed_at)
    rows = db.session.execute(
        sa.select(RollupUnit.multiple, day, RollupUnit.variant, sa.func.count())
        .where(RollupUnit.experiment_id == experiment.id)
        .group_by(RollupUnit.multiple, day, RollupUnit.variant)
    ).all()
    counts: dict = {"per_variant": {}, "multiple": 0, "per_day": []}
    for multiple, d, variant, n in rows:
        if multiple:
            counts["multiple"] += n
            continue
        per_variant = counts["per_variant"]
        per_variant[variant] = per_variant.get(variant, 0) + n
        counts["per_day"].append([str(d), variant, n])
    return counts


def _fold(
    experiment: Experiment, metrics: list[Metric], after_id: int, up_to_id: int
) -> None:
    """Add the events with ids in (after_id, up_to_id] to the stored values: a
    range scan of the events' primary key, each event looking its unit up."""
    temporary = Temporary()
    units = RollupUnit.__table__
    matched = _matched_events(
        temporary,
        metrics,
        units,
        [units.c.experiment_id == experiment.id, ~units.c.multiple],
        Event.id > after_id,
        Event.id <= up_to_id,
    )
    wide = _wide_table(temporary, "rollup_fold_values", metrics)
    bounds = _bounds(matched.c.exposed_at, metrics)
    temporary.fill(wide, _contributions(metrics, matched, matched, bounds))
    _store(experiment, metrics, wide, add=True)
    temporary.drop()


def _recompute(
    experiment: Experiment, metrics: list[Metric], units: set[str], up_to_id: int
) -> None:
    """Recompute from scratch the units whose exposures changed: their rows
    replaced, their values from one scan of the events up to ``up_to_id``, each
    event looking its unit up in a temporary table of the changed units."""
    temporary = Temporary()
    dirty = temporary.create(
        "rollup_dirty_units", sa.Column("unit_id", sa.String(128), primary_key=True)
    )
    db.session.execute(sa.insert(dirty), [{"unit_id": unit} for unit in units])
    db.session.execute(
        sa.delete(UnitMetricValue).where(
            UnitMetricValue.experiment_id == experiment.id,
            UnitMetricValue.metric_id.in_([metric.id for metric in metrics]),
            UnitMetricValue.unit_id.in_(sa.select(dirty.c.unit_id)),
        )
    )
    db.session.execute(
        sa.delete(RollupUnit).where(
            RollupUnit.experiment_id == experiment.id,
            RollupUnit.unit_id.in_(sa.select(dirty.c.unit_id)),
        )
    )
    _insert_units(experiment, dirty)
    analysed = temporary.create(
        "rollup_recomputed_units",
        sa.Column("unit_id", sa.String(128), primary_key=True),
        sa.Column("variant", sa.String(64), nullable=False),
        sa.Column("exposed_at", sa.DateTime(timezone=True), nullable=False),
    )
    units_now = rollup_units(experiment)
    temporary.fill(
        analysed,
        sa.select(
            units_now.c.unit_id, units_now.c.variant, units_now.c.exposed_at
        ).where(units_now.c.unit_id.in_(sa.select(dirty.c.unit_id))),
    )
    matched = _matched_events(
        temporary,
        metrics,
        analysed,
        [],
        Event.id <= up_to_id,
        Event.unit_id.in_(sa.select(analysed.c.unit_id)),
    )
    wide = _wide_table(temporary, "rollup_recomputed_values", metrics)
    bounds = _bounds(matched.c.exposed_at, metrics)
    temporary.fill(wide, _contributions(metrics, matched, matched, bounds))
    _store(experiment, metrics, wide, add=False)
    temporary.drop()


# --- reading the rollup -------------------------------------------------------------


def _raw_values(
    experiment: Experiment, metric: Metric, rollup: Rollup, *, live: bool
) -> sa.Subquery:
    """The metric's stored values (unit_id, variant, exposed_at, raw x and y) of
    units with a non-zero one, with the events past the watermark added when
    ``live`` and there are any."""
    stored = sa.select(
        UnitMetricValue.unit_id,
        UnitMetricValue.variant,
        UnitMetricValue.exposed_at,
        UnitMetricValue.x,
        UnitMetricValue.y,
    ).where(
        UnitMetricValue.experiment_id == experiment.id,
        UnitMetricValue.metric_id == metric.id,
    )
    if not (live and rollup.tail):
        return stored.subquery("raw_values")
    units = rollup_units(experiment)
    events = Event.__table__
    tail = _contributions(
        [metric],
        events,
        units,
        _bounds(units.c.exposed_at, [metric]),
        events.c.id > rollup.watermark,
    ).cte("tail")
    kept = stored.subquery("kept")
    untouched = sa.select(*kept.c).where(
        kept.c.unit_id.not_in(sa.select(tail.c.unit_id))
    )
    touched = sa.select(
        tail.c.unit_id,
        tail.c.variant,
        tail.c.exposed_at,
        (sa.func.coalesce(kept.c.x, 0.0) + tail.c[f"x{metric.id}"]).label("x"),
        (sa.func.coalesce(kept.c.y, 0.0) + tail.c[f"y{metric.id}"]).label("y"),
    ).select_from(tail.outerjoin(kept, kept.c.unit_id == tail.c.unit_id))
    return sa.union_all(untouched, touched).subquery("raw_values")


def _read(metric: Metric, values: sa.Subquery, *, cuped: bool):
    """x and y of a unit as reference_unit_values defines them, from its raw
    values: 0/1 for proportions, the covariate only when CUPED applies."""
    x, y = values.c.x, values.c.y
    lookback = _lookback(metric) if cuped else None
    if metric.kind == MetricKind.PROPORTION:
        x = sa.case((x > 0, 1.0), else_=0.0)
        if lookback:
            y = sa.case((y > 0, 1.0), else_=0.0)
    if metric.kind != MetricKind.RATIO and not lookback:
        y = sa.literal(0.0)
    return x, y


def _sparse_quantile(x: sa.ColumnElement, values: sa.Subquery, n: int, q: float):
    """_quantile over all ``n`` units when only units with a non-zero value have
    a row (the others are 0): the k-th value is negative, zero or positive."""
    if not n:
        return None
    offset = int(q * (n - 1))
    negative, positive = db.session.execute(
        sa.select(
            sa.func.count(sa.case((x < 0, 1))), sa.func.count(sa.case((x > 0, 1)))
        ).select_from(values)
    ).one()
    if offset < negative:
        side, offset = x < 0, offset
    elif offset < n - positive:
        return 0.0
    else:
        side, offset = x > 0, offset - (n - positive)
    return db.session.scalar(
        sa.select(x).select_from(values).where(side).order_by(x).limit(1).offset(offset)
    )


def _capped(metric: Metric, values: sa.Subquery, x, y, n: int):
    """Capped x and y (as _cap does) and the capped values of a unit without a
    row (x = y = 0)."""
    cap = None
    if metric.cap_kind == CapKind.ABSOLUTE:
        cap = metric.cap_value
    elif metric.cap_kind == CapKind.PERCENTILE and metric.kind != MetricKind.PROPORTION:
        cap = _sparse_quantile(x, values, n, metric.cap_value)
    x0 = y0 = 0.0
    if cap is not None:
        x, x0 = smaller(x, cap), min(0.0, cap)
        if metric.kind != MetricKind.RATIO:
            y, y0 = smaller(y, cap), min(0.0, cap)
    return x, y, (x0, y0)


def _with_absent(sums, rows: int, n: int, zero: tuple[float, float]) -> list:
    """Sums over stored rows completed with the ``n - rows`` units without one."""
    x0, y0 = zero
    m = n - rows
    totals = [float(s or 0) for s in sums]
    if m and (x0 or y0):
        extra = (m * x0, m * x0 * x0, m * y0, m * y0 * y0, m * x0 * y0)
        totals = [a + b for a, b in zip(totals, extra, strict=True)]
    return [n, *totals]


@dataclass(frozen=True)
class UnitValues:
    """A metric's per-unit values as the results analyse them. ``rows``:
    unit_id, variant, exposed_at, x and y of the analysed units that have a
    value (see unit_values); an analysed unit without a row has ``absent`` as
    its x and y."""

    rows: sa.Subquery
    absent: tuple[float, float]

    def sums(self, rows: sa.FromClause | None = None) -> list[sa.ColumnElement]:
        """Aggregates over ``rows`` (default :attr:`rows`; any with its x and y
        columns): the count of rows, Σx, Σx², Σy, Σy², Σxy."""
        rows = self.rows if rows is None else rows
        return _sums(rows.c.x, rows.c.y)

    def totals(self, sums, n: int) -> list:
        """n, Σx, Σx², Σy, Σy², Σxy of ``n`` analysed units from the values of
        :meth:`sums` over their rows (None: they have none)."""
        count, *totals = sums or (0, 0.0, 0.0, 0.0, 0.0, 0.0)
        return _with_absent(totals, count, n, self.absent)

    def sample(self, sums, n: int) -> SampleStats:
        """:meth:`totals` as sufficient statistics."""
        return _sample(*self.totals(sums, n))


def unit_values(
    experiment: Experiment,
    metric: Metric,
    *,
    cuped: bool = False,
    rollup: Rollup | None = None,
    live: bool = True,
) -> UnitValues:
    """The metric's per-unit values from the rollup, read as the results read
    them: ``x`` the metric value (a ratio's numerator; 0/1 for a proportion),
    ``y`` the CUPED covariate when ``cuped`` (0/1 for a proportion), a ratio's
    denominator, else 0; both capped as the metric says (percentile caps over
    all analysed units). The events past the rollup's watermark are added when
    ``live`` (else the values stop at the watermark). ``rollup``: the state
    refresh() returned, else the rollup is refreshed.

    Only units with a stored (or live) value have rows; :class:`UnitValues`
    completes the sums with the others."""
    rollup = rollup or refresh(experiment)
    n = sum(rollup.counts["per_variant"].values())
    raw = _raw_values(experiment, metric, rollup, live=live)
    x, y = _read(metric, raw, cuped=cuped)
    x, y, absent = _capped(metric, raw, x, y, n)
    rows = sa.select(
        raw.c.unit_id, raw.c.variant, raw.c.exposed_at, x.label("x"), y.label("y")
    ).subquery("unit_values")
    return UnitValues(rows, absent)


def exposure_counts(experiment: Experiment) -> ExposureCounts:
    """Units per variant (exposed to one variant only) and the multiply exposed,
    from the rollup (refreshed first)."""
    counts = refresh(experiment).counts
    per_variant = {v.key: 0 for v in experiment.variants} | counts["per_variant"]
    return ExposureCounts(per_variant, counts["multiple"])


def variant_stats(
    experiment: Experiment, metric: Metric, *, cuped: bool = False
) -> dict[str, SampleStats]:
    """Sufficient statistics per variant key for one metric, from the rollup
    (refreshed first); the same numbers as reference_variant_stats.

    Variants without units get ``SampleStats(0, 0, 0)``. Capping applies to x and,
    for CUPED, to the covariate with the same cap.
    """
    if not _in_design(experiment, metric):
        return reference_variant_stats(experiment, metric, cuped=cuped)
    rollup = refresh(experiment)
    values = unit_values(experiment, metric, cuped=cuped, rollup=rollup)
    rows = values.rows
    sums = {
        variant: aggregates
        for variant, *aggregates in db.session.execute(
            sa.select(rows.c.variant, *values.sums()).group_by(rows.c.variant)
        ).all()
    }
    stats = {v.key: SampleStats(0, 0.0, 0.0) for v in experiment.variants}
    for variant, n in rollup.counts["per_variant"].items():
        stats[variant] = values.sample(sums.get(variant), n)
    return stats


def daily_variant_stats(
    experiment: Experiment, metric: Metric, *, cuped: bool = False
) -> list[tuple[str, dict[str, SampleStats]]]:
    """Cumulative sufficient statistics by exposure day (display time zone): for
    each day, the statistics of the units exposed up to and including it. Each
    unit's value covers its whole window as observed now. From the rollup
    (refreshed first); the same numbers as reference_daily_variant_stats."""
    if not _in_design(experiment, metric):
        return reference_daily_variant_stats(experiment, metric, cuped=cuped)
    rollup = refresh(experiment)
    counts = {(d, variant): n for d, variant, n in rollup.counts["per_day"]}
    values = unit_values(experiment, metric, cuped=cuped, rollup=rollup)
    rows = values.rows
    day = local_day(rows.c.exposed_at)
    sums = {
        (str(d), variant): aggregates
        for d, variant, *aggregates in db.session.execute(
            sa.select(day, rows.c.variant, *values.sums()).group_by(day, rows.c.variant)
        ).all()
    }
    running = {v.key: [0, 0.0, 0.0, 0.0, 0.0, 0.0] for v in experiment.variants}
    days: list[tuple[str, dict[str, SampleStats]]] = []
    for d, variant in sorted(counts, key=lambda key: str(key[0])):
        totals = values.totals(sums.get((str(d), variant)), counts[(d, variant)])
        if variant in running:
            running[variant] = [
                a + b for a, b in zip(running[variant], totals, strict=True)
            ]
        snapshot = {k: _sample(*v) for k, v in running.items()}
        if days and days[-1][0] == str(d):
            days[-1] = (str(d), snapshot)
        else:
            days.append((str(d), snapshot))
    return days
