"""Experiment results at scale: full results computed from the database, and the
statistics engine alone.

    .venv/bin/python benchmarks/analysis.py [--units 1000000] [--database-url URL]
        [--postgres URL] [--repeat 3] [--stats-runs 100] [--timeout 300]
        [--explain]

Without ``--database-url`` it runs on SQLite in a temporary directory and, when
``--postgres`` or ``TEST_DATABASE_URL`` names a PostgreSQL server, on PostgreSQL
too: a scratch database is created on that server and dropped at the end. With
``--database-url`` it runs on that database alone, which must be empty (it is
migrated and filled, and left so).

Setup (timed, but not part of the figures): migrate; create five metrics
(converted: proportion of deal_won; deal_value: sum of deal_won values, CUPED 30
days, capped at the 99th percentile; calls: count of call, CUPED 30 days;
visit_rate: proportion of visit; ai_acceptance: ratio of ai_suggestion_accepted
to ai_suggestion_shown) and a two-variant experiment through experiments.services,
start it and date its start 14 days back. Then bulk-load with SQLAlchemy Core
``executemany`` in chunks of 50,000: ``--units`` exposures (variants from the
experiment's Splitter, first exposures spread over the 14 days, 0.1 % of the units
also exposed to the other variant) and about 3.3 events per unit (calls before and
after exposure, visits, AI suggestions shown and accepted, a deal won by about 12 %
of the units with lognormal values, a few deals before exposure), in time order as
live ingestion stores them. On PostgreSQL the two tables are then vacuumed and
analysed, as autovacuum would do after such a load.

Figures, for each database, ``experiments.results.compute`` (SQL, statistics,
payload) as the product runs it, each call committed:

* cold: the first call, which builds the experiment's rollup (per-unit metric
  values, see experiments/analysis.py) from nothing;
* warm: ``--repeat`` calls with the rollup up to date, each and the best;
* incremental: one call after 20,000 new events (half of them of the new units)
  and 5,000 new exposures arrived (exposures through
  ``services.record_exposures``, events stamped as just received: on PostgreSQL
  they are past the settled watermark and read live, not folded);

then where a warm call's time goes (a refresh with nothing new, the exposure
counts, each metric's ``analysis.variant_stats``, and the daily statistics of the
results page's cumulative-lift chart); then ``results.results`` twice, a cache
miss (computes and stores) and a hit.

And once, without a database:

* statistics only: ``results.compute`` for 3 variants × 10 metrics (CUPED on three,
  two ratios) with its two SQL functions replaced by precomputed sufficient
  statistics, followed by ``json.dumps`` of the payload: the median of
  ``--stats-runs`` runs, with the experiment's default options and, for
  information, with sequential testing on.

With ``--explain``, the plan of each metric's per-variant sums over the rollup
follows: EXPLAIN QUERY PLAN on SQLite, EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL.
In the timed part any statement running past ``--timeout`` seconds is cancelled
(statement_timeout on PostgreSQL, a progress handler on SQLite) and reported as
cut off, so a pathological plan costs minutes, not hours.
"""

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import sqlalchemy as sa
from common import Progress, scratch_postgres

SEED = 20261127
CHUNK = 50_000
EXPOSURE_DAYS = 14
LOOKBACK_DAYS = 30
DAY = 86_400.0
#: Share of the units exposed to both variants (left out of the analysis).
MULTIPLE_SHARE = 0.001
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EXPERIMENT_KEY = "bench-results-at-scale"
#: Best full-results time, seconds, per database.
TARGET_FULL_S = {"sqlite": 5.0, "postgresql": 3.0}
TARGET_STATS_MS = 50.0
STATS_VARIANTS = 3
STATS_METRICS = 10
#: New data before the incremental figure.
NEW_EVENTS = 20_000
NEW_UNITS = 5_000
BACKEND_LABEL = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}

METRICS: tuple[dict[str, Any], ...] = (
    {
        "key": "converted",
        "name": {"zh": "成交转化", "en": "Converted"},
        "kind": "proportion",
        "event_type": "deal_won",
    },
    {
        "key": "deal_value",
        "name": {"zh": "成交金额", "en": "Deal value"},
        "kind": "mean",
        "event_type": "deal_won",
        "aggregate": "sum",
        "cuped_lookback_days": LOOKBACK_DAYS,
        "capping": {"kind": "percentile", "value": 0.99},
    },
    {
        "key": "calls",
        "name": {"zh": "通话次数", "en": "Calls"},
        "kind": "mean",
        "event_type": "call",
        "aggregate": "count",
        "cuped_lookback_days": LOOKBACK_DAYS,
    },
    {
        "key": "visit_rate",
        "name": {"zh": "到访率", "en": "Visit rate"},
        "kind": "proportion",
        "event_type": "visit",
    },
    {
        "key": "ai_acceptance",
        "name": {"zh": "AI 建议采纳率", "en": "AI suggestion acceptance"},
        "kind": "ratio",
        "event_type": "ai_suggestion_accepted",
        "denominator": {"event_type": "ai_suggestion_shown", "aggregate": "count"},
    },
)
EXPERIMENT = {
    "key": EXPERIMENT_KEY,
    "name": "Results at scale (benchmark)",
    "hypothesis": {
        "if": "reps use the new script",
        "then": "more leads convert",
        "because": "objections are answered better",
    },
    "unit_type": "lead",
    "variants": [
        {"key": "control", "weight": 0.5},
        {"key": "new_script", "weight": 0.5},
    ],
    "primary_metrics": ["converted"],
    "secondary_metrics": ["deal_value", "calls", "visit_rate", "ai_acceptance"],
    "analysis": {"alpha": 0.05, "cuped": True, "sequential": False, "mde": 0.05},
    "planned_duration_days": 28,
    "decision_criteria": {
        "success": "Conversion up, 95% interval above 0",
        "early_stop": "Deal value down 10% or more",
    },
}
#: Event types in the order of their codes in the generated arrays.
TYPES = ("call", "visit", "ai_suggestion_shown", "ai_suggestion_accepted", "deal_won")


def timed(function: Callable[..., Any], *args: Any, **kwargs: Any):
    """``function(*args, **kwargs)`` and the seconds it took."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


# --- data ---------------------------------------------------------------------------


@dataclass
class Events:
    """Generated events as arrays, sorted by time: unit index, type code (index in
    TYPES), occurred_at (seconds since the epoch, UTC) and value (NaN for none)."""

    unit: np.ndarray
    kind: np.ndarray
    at: np.ndarray
    value: np.ndarray

    def __len__(self) -> int:
        return int(self.unit.size)


def make_events(
    exposed: np.ndarray, treated: np.ndarray, now: float, rng: np.random.Generator
) -> Events:
    """About 3.3 events per unit. A unit's activity level (gamma, mean 1) drives its
    calls before and after exposure, so the pre-period is a useful CUPED covariate;
    treatment lifts calls, visits, acceptance and deals by a few per cent."""
    n = exposed.size
    activity = rng.gamma(2.0, 0.5, n)
    lift = 1.0 + 0.03 * treated
    shown = np.where(rng.random(n) < 0.4, 1 + rng.poisson(1.5, n), 0)
    parts: list[tuple[int, np.ndarray, bool]] = [
        (0, rng.poisson(0.7 * activity), True),  # calls before exposure
        (0, rng.poisson(0.8 * activity * lift), False),
        (1, (rng.random(n) < 0.3 * lift).astype(np.int64), False),
        (2, shown, False),
        (3, rng.binomial(shown, 0.35 * lift), False),
        (4, (rng.random(n) < 0.04 * activity).astype(np.int64), True),
        (
            4,
            (rng.random(n) < 0.12 * (0.6 + 0.4 * activity) * lift).astype(np.int64),
            False,
        ),
    ]
    units, kinds, times, values = [], [], [], []
    for code, counts, before in parts:
        unit = np.repeat(np.arange(n), counts)
        start = exposed[unit]
        # (0, 1]: events before exposure fall strictly before it.
        share = 1.0 - rng.random(unit.size)
        if before:
            at = start - share * LOOKBACK_DAYS * DAY
        else:
            at = start + (1.0 - share) * (now - start)
        units.append(unit)
        kinds.append(np.full(unit.size, code, dtype=np.int8))
        times.append(at)
        if TYPES[code] == "deal_won":
            values.append(np.round(rng.lognormal(11.3, 0.8, unit.size), -2))
        else:
            values.append(np.full(unit.size, np.nan))
    at = np.concatenate(times)
    order = np.argsort(at, kind="stable")
    return Events(
        unit=np.concatenate(units)[order],
        kind=np.concatenate(kinds)[order],
        at=at[order],
        value=np.concatenate(values)[order],
    )


def as_time(seconds: list[float]) -> list[datetime]:
    return [EPOCH + timedelta(seconds=s) for s in seconds]


def load_exposures(
    experiment, unit_ids: list[str], variants: list[str], exposed: np.ndarray, rng
) -> int:
    """Insert one exposure per unit, and a second one to the other variant for a
    few units; returns the rows written."""
    from experiments.models import Exposure
    from proving_ground.db import db

    keys = [v.key for v in experiment.variants]
    other = {keys[0]: keys[1], keys[1]: keys[0]}
    multiple = rng.choice(len(unit_ids), int(len(unit_ids) * MULTIPLE_SHARE), False)
    later = exposed[multiple] + rng.random(multiple.size) * 3600.0
    extra = [
        (unit_ids[i], other[variants[i]], t)
        for i, t in zip(multiple.tolist(), later.tolist(), strict=True)
    ]
    table = Exposure.__table__
    total = len(unit_ids) + len(extra)
    progress = Progress("exposures", total)
    common = {"experiment_id": experiment.id, "run": experiment.run, "source": "bulk"}
    done = 0
    for start in range(0, total, CHUNK):
        stop = min(start + CHUNK, total)
        rows = []
        for i in range(start, stop):
            if i < len(unit_ids):
                unit, variant, at = unit_ids[i], variants[i], float(exposed[i])
            else:
                unit, variant, at = extra[i - len(unit_ids)]
            rows.append(
                {
                    **common,
                    "unit_id": unit,
                    "variant_key": variant,
                    "first_exposed_at": EPOCH + timedelta(seconds=at),
                }
            )
        db.session.execute(sa.insert(table), rows)
        db.session.commit()
        done += len(rows)
        progress(done)
    return total


def load_events(
    events: Events, unit_ids: list[str], received: datetime, rng: np.random.Generator
) -> int:
    """Insert the events in time order, ``CHUNK`` rows per executemany and commit;
    event ids are random 32-digit hex strings, as uuid4s are."""
    from experiments.models import Event
    from proving_ground.db import db

    table = Event.__table__
    progress = Progress("events", len(events))
    for start in range(0, len(events), CHUNK):
        stop = min(start + CHUNK, len(events))
        ids = rng.bytes(16 * (stop - start)).hex()
        occurred = as_time(events.at[start:stop].tolist())
        values = events.value[start:stop].tolist()
        rows = [
            {
                "event_id": ids[32 * j : 32 * j + 32],
                "type": TYPES[kind],
                "unit_id": unit_ids[unit],
                "value": None if value != value else value,  # NaN → None
                "occurred_at": at,
                "received_at": received,
                "source": "demo",
            }
            for j, (unit, kind, value, at) in enumerate(
                zip(
                    events.unit[start:stop].tolist(),
                    events.kind[start:stop].tolist(),
                    values,
                    occurred,
                    strict=True,
                )
            )
        ]
        db.session.execute(sa.insert(table), rows)
        db.session.commit()
        progress(stop)
    return len(events)


def set_up(units: int) -> tuple[int, dict[str, float]]:
    """Create the design and load the data (in an app context); returns the
    experiment id and the seconds each step took."""
    from flask_migrate import upgrade

    from experiments import services
    from proving_ground.db import db, utcnow

    steps: dict[str, float] = {}
    start = time.perf_counter()
    upgrade()
    for body in METRICS:
        services.create_metric(body, actor=None)
    experiment = services.create_experiment(EXPERIMENT, actor=None)
    services.transition(experiment, "start", actor=None)
    now = utcnow()
    experiment.started_at = now - timedelta(days=EXPOSURE_DAYS)
    db.session.commit()
    steps["migrate and design"] = time.perf_counter() - start

    start = time.perf_counter()
    rng = np.random.default_rng(SEED)
    unit_ids = [f"lead-{i:07d}" for i in range(units)]
    split = services.splitter(experiment)
    variants = [split.variant(unit) for unit in unit_ids]
    control = experiment.control.key
    treated = np.fromiter((v != control for v in variants), dtype=float, count=units)
    now_s = (now - EPOCH).total_seconds()
    begin = now_s - EXPOSURE_DAYS * DAY
    exposed = begin + rng.random(units) * (now_s - begin)
    events = make_events(exposed, treated, now_s, rng)
    steps["generate (assign, draw events)"] = time.perf_counter() - start

    exposures, steps["insert exposures"] = timed(
        load_exposures, experiment, unit_ids, variants, exposed, rng
    )
    # The history was received long enough ago to have settled (see
    # analysis.SETTLE): the rollup folds it, as in a running experiment.
    received = now - timedelta(hours=1)
    count, steps["insert events"] = timed(load_events, events, unit_ids, received, rng)
    if db.engine.dialect.name == "postgresql":
        start = time.perf_counter()
        with db.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("VACUUM ANALYZE exposures")
            conn.exec_driver_sql("VACUUM ANALYZE events")
        steps["VACUUM ANALYZE"] = time.perf_counter() - start
    print(
        f"  data: {units:,} units, {exposures:,} exposures, {count:,} events "
        f"({count / units:.2f} per unit)"
    )
    return experiment.id, steps


# --- full results from the database -------------------------------------------------


class CutOff(Exception):
    """A statement ran past ``--timeout`` and was cancelled."""


def guard_statements(engine: sa.Engine, seconds: float) -> None:
    """Cancel any statement that runs longer than ``seconds`` on connections opened
    from now on: PostgreSQL's statement_timeout; on SQLite a progress handler
    that interrupts the statement once its deadline has passed. A bad plan then
    costs minutes, not hours, and is reported."""
    if engine.dialect.name == "postgresql":

        @sa.event.listens_for(engine, "connect")
        def set_timeout(dbapi_connection, _record):
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET statement_timeout = {int(seconds * 1000)}")
            dbapi_connection.commit()

    elif engine.dialect.name == "sqlite":
        deadline = [math.inf]

        @sa.event.listens_for(engine, "connect")
        def set_handler(dbapi_connection, _record):
            dbapi_connection.set_progress_handler(
                lambda: time.monotonic() > deadline[0], 100_000
            )

        @sa.event.listens_for(engine, "before_cursor_execute")
        def start_clock(*_args):
            deadline[0] = time.monotonic() + seconds

    engine.dispose()  # pooled connections would not have the guard


@contextmanager
def cut_off() -> Iterator[None]:
    """Turn a cancelled statement into CutOff (and roll the session back)."""
    from proving_ground.db import db

    try:
        yield
    except sa.exc.OperationalError as exc:
        db.session.rollback()
        text = str(exc.orig).lower()
        if "interrupted" in text or "statement timeout" in text:
            raise CutOff from exc
        raise


def ordered_metrics(experiment) -> list:
    from experiments.models import MetricRole
    from experiments.results import ROLE_ORDER

    links = sorted(
        experiment.metric_links,
        key=lambda link: (ROLE_ORDER[MetricRole(link.role)], link.position),
    )
    return [link.metric for link in links]


def percentile_capped(metric) -> bool:
    from experiments.models import CapKind, MetricKind

    return (
        metric.cap_kind == CapKind.PERCENTILE and metric.kind != MetricKind.PROPORTION
    )


def describe(metric, cuped: bool) -> str:
    parts = [metric.kind]
    if cuped:
        parts.append("CUPED")
    if percentile_capped(metric):
        parts.append(f"p{metric.cap_value * 100:g} cap")
    return f"{metric.key} ({', '.join(parts)})"


def _compute(experiment, label: str) -> float | None:
    """Time one results.compute and print it; None when it was cut off."""
    from experiments import results

    start = time.perf_counter()
    try:
        with cut_off():
            payload = results.compute(experiment, results.Options.of(experiment))
            from proving_ground.db import db

            db.session.commit()
    except CutOff:
        print(f"  {label}: cut off after {time.perf_counter() - start:.1f} s")
        return None
    seconds = time.perf_counter() - start
    units = payload["units"]
    converted = next(m for m in payload["metrics"] if m["metric"] == "converted")
    lift = converted["variants"][1]["relative"] or {}
    print(
        f"  {label:<44} {seconds:6.2f} s  (units {sum(units['per_variant'].values()):,}"
        f", converted lift {(lift.get('estimate') or 0):+.3%})",
        flush=True,
    )
    return seconds


def new_data(experiment, units: int, rng: np.random.Generator) -> None:
    """NEW_EVENTS events (half of them of NEW_UNITS units exposed now) and those
    units' exposures, as the product receives them: exposures through
    services.record_exposures, events just received."""
    from experiments import services
    from experiments.models import Event
    from proving_ground.db import db, utcnow

    now = utcnow()
    split = services.splitter(experiment)
    fresh = [f"lead-{units + i:07d}" for i in range(NEW_UNITS)]
    for start in range(0, NEW_UNITS, 1000):
        rows = [
            {
                "unit_id": unit,
                "variant_key": split.variant(unit),
                "first_exposed_at": now,
            }
            for unit in fresh[start : start + 1000]
        ]
        services.record_exposures(experiment, rows, source="assign")
    old = [f"lead-{i:07d}" for i in rng.integers(0, units, NEW_EVENTS // 2)]
    targets = old + [fresh[i] for i in rng.integers(0, NEW_UNITS, NEW_EVENTS // 2)]
    kinds = rng.integers(0, len(TYPES), NEW_EVENTS)
    ids = rng.bytes(16 * NEW_EVENTS).hex()
    rows = [
        {
            "event_id": ids[32 * j : 32 * j + 32],
            "type": TYPES[kind],
            "unit_id": unit,
            "value": 1000.0 if TYPES[kind] == "deal_won" else None,
            "occurred_at": now + timedelta(seconds=j),
            "received_at": now,
            "source": "api",
        }
        for j, (unit, kind) in enumerate(zip(targets, kinds.tolist(), strict=True))
    ]
    db.session.execute(sa.insert(Event), rows)
    db.session.commit()


def bench_full(experiment, repeat: int, units: int) -> dict[str, float | None]:
    """results.compute as the product runs it: cold (the rollup built from
    nothing), warm ``repeat`` times, then after new data arrived (incremental).
    Returns the cold, best warm and incremental seconds."""
    figures = {"cold": _compute(experiment, "cold (rollup built from nothing)")}
    warm = [_compute(experiment, f"warm, run {run}") for run in range(1, repeat + 1)]
    figures["warm"] = None if None in warm else min(warm)
    new_data(experiment, units, np.random.default_rng(SEED + 1))
    figures["incremental"] = _compute(
        experiment,
        f"incremental (+{NEW_EVENTS:,} events, +{NEW_UNITS:,} exposures)",
    )
    return figures


def _part(label: str, function: Callable[..., Any], *args, **kwargs) -> float | None:
    """Time one SQL part and print its line; None when it was cut off."""
    start = time.perf_counter()
    try:
        with cut_off():
            function(*args, **kwargs)
    except CutOff:
        seconds = time.perf_counter() - start
        print(f"  {label:<56} cut off after {seconds:.1f} s", flush=True)
        return None
    seconds = time.perf_counter() - start
    print(f"  {label:<56} {seconds:6.2f} s", flush=True)
    return seconds


def bench_breakdown(experiment) -> None:
    """Time the SQL parts of a warm results.compute one by one: the refresh with
    nothing new, the exposure counts, each metric's variant_stats (its refresh,
    the percentile cap's quantile and the sums), the daily statistics of the
    cumulative-lift chart."""
    from experiments import analysis, results

    options = results.Options.of(experiment)
    parts = [
        _part("analysis.refresh (nothing new)", analysis.refresh, experiment),
        _part("analysis.exposure_counts", analysis.exposure_counts, experiment),
    ]
    for metric in ordered_metrics(experiment):
        cuped = results.uses_cuped(metric, options)
        label = f"variant_stats {describe(metric, cuped)}"
        parts.append(
            _part(label, analysis.variant_stats, experiment, metric, cuped=cuped)
        )
    if None not in parts:
        print(f"  {'sum of the SQL parts':<56} {sum(parts):6.2f} s")
    metric = ordered_metrics(experiment)[0]
    _part(
        f"daily_variant_stats {metric.key} (results page chart)",
        analysis.daily_variant_stats,
        experiment,
        metric,
    )


def bench_cache(experiment) -> None:
    """results.results twice: a miss that computes and stores, then a hit."""
    from experiments import results
    from experiments.models import ResultsCache
    from proving_ground.db import db

    db.session.execute(sa.delete(ResultsCache))
    db.session.commit()
    options = results.Options.of(experiment)
    try:
        with cut_off():
            _payload, miss = timed(results.results, experiment, options)
    except CutOff:
        print("  results.results, cache miss: cut off (a statement ran past --timeout)")
        return
    db.session.commit()
    _payload, hit = timed(results.results, experiment, options)
    db.session.commit()
    print(f"  results.results, cache miss (compute and store): {miss:6.2f} s")
    print(f"  results.results, cache hit:                      {hit * 1000:6.1f} ms")


def _plan(sql: str) -> str:
    """The plan of ``sql``: EXPLAIN QUERY PLAN (SQLite) as an indented tree, or
    EXPLAIN (ANALYZE, BUFFERS) (PostgreSQL), plain EXPLAIN if that was cut off."""
    from proving_ground.db import db

    connection = db.session.connection()
    if db.engine.dialect.name == "sqlite":
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()
        depth, lines = {0: -1}, []
        for node, parent, _unused, detail in rows:
            depth[node] = depth.get(parent, -1) + 1
            lines.append(f"{'  ' * depth[node]}{detail}")
        return "\n".join(lines)
    sql = sql.replace("%", "%%")  # psycopg reads a lone % as a placeholder
    try:
        with cut_off():
            rows = connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            return "\n".join(row[0] for row in rows)
    except CutOff:
        rows = db.session.connection().exec_driver_sql("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in rows)
        return f"(EXPLAIN ANALYZE cut off: estimated plan)\n{plan}"


def explain(experiment) -> None:
    """Print the plan of the rollup's reads for each metric (the per-variant
    sums over the stored values)."""
    from experiments import analysis, results
    from proving_ground.db import db

    options = results.Options.of(experiment)
    rollup = analysis.refresh(experiment)
    for metric in ordered_metrics(experiment):
        values = analysis.unit_values(
            experiment, metric, cuped=results.uses_cuped(metric, options), rollup=rollup
        )
        stmt = sa.select(values.rows.c.variant, *values.sums()).group_by(
            values.rows.c.variant
        )
        compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
        print(f"\n-- {metric.key}: per-variant sums\n{compiled}\n")
        print(_plan(str(compiled)), flush=True)
    db.session.rollback()


# --- statistics only ----------------------------------------------------------------


def moments(
    n: int,
    mean: float,
    sd: float,
    y_mean: float = 0.0,
    y_sd: float = 0.0,
    rho: float = 0.0,
):
    """Sufficient statistics of n units with these sample moments (ddof 1)."""
    from experiments.stats import SampleStats

    return SampleStats(
        n=n,
        sum=n * mean,
        sum_sq=(n - 1) * sd * sd + n * mean * mean,
        y_sum=n * y_mean,
        y_sum_sq=(n - 1) * y_sd * y_sd + n * y_mean * y_mean,
        xy_sum=(n - 1) * rho * sd * y_sd + n * mean * y_mean,
    )


def synthetic(units: int):
    """A transient experiment with STATS_VARIANTS variants and STATS_METRICS metrics
    (proportions, means with and without CUPED, ratios), its exposure counts and
    the sufficient statistics of every metric and variant."""
    from experiments.analysis import ExposureCounts
    from experiments.models import (
        Experiment,
        ExperimentMetric,
        Metric,
        MetricRole,
        Variant,
    )
    from proving_ground.auth import models as _auth_models  # noqa: F401 (User)
    from proving_ground.db import utcnow

    rng = np.random.default_rng(SEED)
    keys = ["control", *(f"treatment_{i}" for i in range(1, STATS_VARIANTS))]
    n = units // STATS_VARIANTS
    counts = {key: int(n + rng.integers(-300, 300)) for key in keys}
    experiment = Experiment(
        key="stats-only",
        name="Statistics only",
        unit_type="lead",
        status="running",
        run=1,
        alpha=0.05,
        power=0.8,
        mde=0.05,
        cuped=True,
        sequential=False,
        planned_duration_days=28,
        started_at=utcnow() - timedelta(days=7),
        variants=[
            Variant(key=key, name=key, weight=1 / len(keys), is_control=i == 0)
            for i, key in enumerate(keys)
        ],
    )
    # (kind, aggregate, CUPED lookback) of each metric, in turn.
    shapes = [
        ("proportion", "count", None),
        ("mean", "sum", LOOKBACK_DAYS),
        ("mean", "count", LOOKBACK_DAYS),
        ("proportion", "count", None),
        ("ratio", "count", None),
        ("mean", "count", LOOKBACK_DAYS),
        ("proportion", "count", None),
        ("mean", "sum", None),
        ("ratio", "count", None),
        ("mean", "count", None),
    ]
    links, by_metric = [], {}
    for index in range(STATS_METRICS):
        kind, aggregate, lookback = shapes[index % len(shapes)]
        key = f"metric_{index}"
        metric = Metric(
            key=key,
            name_zh=key,
            name_en=key,
            kind=kind,
            event_types=[f"event_{index}"],
            aggregate=aggregate,
            denominator_event_types=[f"shown_{index}"] if kind == "ratio" else None,
            denominator_aggregate="count" if kind == "ratio" else None,
            window_days=30,
            direction="increase",
            cuped_lookback_days=lookback,
        )
        role = MetricRole.PRIMARY if index == 0 else MetricRole.SECONDARY
        links.append(ExperimentMetric(metric=metric, role=role, position=index))
        stats = {}
        for variant, count in counts.items():
            lift = 1.0 if variant == "control" else 1.0 + rng.normal(0.02, 0.02)
            if kind == "proportion":
                p = 0.12 * lift
                stats[variant] = moments(count, p, (p * (1 - p)) ** 0.5)
            elif kind == "ratio":
                stats[variant] = moments(count, 0.35 * lift, 0.8, 1.0, 1.6, 0.7)
            elif lookback:
                stats[variant] = moments(count, 2.0 * lift, 1.8, 1.9, 1.7, 0.6)
            else:
                stats[variant] = moments(count, 900.0 * lift, 4000.0)
        by_metric[key] = stats
    experiment.metric_links = links
    return experiment, ExposureCounts(counts, 0), by_metric


def bench_stats(units: int, runs: int, *, sequential: bool) -> list[float]:
    """Seconds of each run of results.compute (SQL replaced) + json.dumps."""
    from experiments import analysis, results

    experiment, counts, by_metric = synthetic(units)
    options = results.Options(
        cuped=True, sequential=sequential, tuning=None, alpha=0.05, correction="holm"
    )

    def exposure_counts(_experiment):
        return counts

    def variant_stats(_experiment, metric, *, cuped=False):
        return by_metric[metric.key]

    def once() -> str:
        return json.dumps(results.compute(experiment, options), allow_nan=False)

    with (
        mock.patch.object(analysis, "exposure_counts", exposure_counts),
        mock.patch.object(analysis, "variant_stats", variant_stats),
    ):
        once()  # warm-up: lazy imports, first calls
        return [timed(once)[1] for _ in range(runs)]


def report_stats(units: int, runs: int) -> list[str]:
    """Print and return the statistics-only lines."""
    lines = []
    shape = f"{STATS_VARIANTS} variants × {STATS_METRICS} metrics"
    for sequential in (False, True):
        times = sorted(bench_stats(units, runs, sequential=sequential))
        median = statistics.median(times) * 1000
        p95 = times[max(int(len(times) * 0.95) - 1, 0)] * 1000
        label = "sequential on" if sequential else "default options"
        verdict = "OK" if median < TARGET_STATS_MS else "MISSED"
        lines.append(
            f"statistics only ({shape}, {label}): median {median:.1f} ms, "
            f"p95 {p95:.1f} ms over {runs} runs (target < {TARGET_STATS_MS:g} ms) "
            f"{verdict}"
        )
        print(lines[-1], flush=True)
    return lines


# --- running ------------------------------------------------------------------------


def run(url: str, args: argparse.Namespace, instance: str) -> str:
    """Set up and benchmark one database; returns its summary line."""
    from experiments.models import Experiment
    from proving_ground import create_app
    from proving_ground.config import normalise_database_url
    from proving_ground.db import db

    url = normalise_database_url(url)
    backend = sa.make_url(url).get_backend_name()
    label = BACKEND_LABEL.get(backend, backend)
    print(f"\n{label}: {args.units:,} exposed units", flush=True)
    app = create_app(
        {"DATABASE_URL": url, "SECRET_KEY": "bench", "INSTANCE_PATH": instance}
    )
    with app.app_context():
        start = time.perf_counter()
        experiment_id, steps = set_up(args.units)
        setup = time.perf_counter() - start
        detail = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in steps.items())
        print(f"  setup {setup:.1f} s (not timed): {detail}", flush=True)
        db.session.remove()
        guard_statements(db.engine, args.timeout)
        experiment = db.session.get(Experiment, experiment_id)
        figures = bench_full(experiment, args.repeat, args.units)
        bench_breakdown(experiment)
        bench_cache(experiment)
        if args.explain:
            explain(experiment)
        db.session.remove()
        db.engine.dispose()
    target = TARGET_FULL_S.get(backend)
    shown = []
    for name, seconds in figures.items():
        if seconds is None:
            shown.append(f"{name} cut off")
            continue
        verdict = ""
        if target is not None and name != "cold":
            verdict = " OK" if seconds <= target else " MISSED"
        shown.append(f"{name} {seconds:.2f} s{verdict}")
    summary = (
        f"full results: {label}, {args.units:,} units: {', '.join(shown)} "
        f"(target ≤ {target:g} s; warm = best of {args.repeat})"
    )
    print(summary, flush=True)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="Run on this (empty) database alone.")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TEST_DATABASE_URL") or None,
        help="A PostgreSQL server URL (default: TEST_DATABASE_URL) on which to "
        "create a scratch database, besides SQLite.",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="Full-results runs (default 3)."
    )
    parser.add_argument(
        "--stats-runs",
        type=int,
        default=100,
        help="Statistics-only runs (default 100).",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=300,
        help="Cancel any statement of the timed part running longer (default 300 s).",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="Print the query plans of the rollup's reads.",
    )
    args = parser.parse_args()
    if args.units < 1000:
        parser.error("--units must be at least 1,000")
    if args.repeat < 1 or args.stats_runs < 1:
        parser.error("--repeat and --stats-runs must be positive")

    print(
        f"targets: full results ≤ {TARGET_FULL_S['sqlite']:g} s on SQLite, "
        f"≤ {TARGET_FULL_S['postgresql']:g} s on PostgreSQL (1,000,000 units, "
        f"2 variants, 5 metrics); statistics only < {TARGET_STATS_MS:g} ms "
        f"({STATS_VARIANTS} variants × {STATS_METRICS} metrics)"
    )
    summaries = report_stats(args.units, args.stats_runs)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        if args.database_url:
            summaries.append(run(args.database_url, args, tmp))
        else:
            summaries.append(run(f"sqlite:///{directory / 'analysis.db'}", args, tmp))
            if args.postgres:
                with scratch_postgres(args.postgres, "bench_analysis") as url:
                    summaries.append(run(url, args, tmp))
            else:
                summaries.append(
                    "full results: PostgreSQL skipped: give --postgres URL or set "
                    "TEST_DATABASE_URL"
                )
    print()
    print("\n".join(summaries))


if __name__ == "__main__":
    main()
