"""The incremental rollup (analysis.variant_stats, exposure_counts and
daily_variant_stats) against the from-scratch reference SQL after every refresh,
on random interleavings: events arriving late and out of order, exposures
arriving after their events, first exposures moving earlier, units becoming
multiply exposed, a restart and a changed metric definition; windows and
lookbacks hit exactly at their bounds; absolute and percentile caps, a ratio,
CUPED on means and on a proportion.

Event values are multiples of 0.25, so every sum is exact in floating point and
the statistics must be equal, not merely close. On PostgreSQL some events are
stamped as just received and, at every other check, another session holds the
ingestion lock, so those events stay past the settled watermark and are added
when the values are read.
"""

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from experiments import analysis, services
from experiments.ingest import INGEST_LOCK
from experiments.models import Event, ExposureChange
from proving_ground.db import db, utcnow

START = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
KEY = "rollup-check"
EXTRA_METRICS = (
    {
        "key": "calls_capped",
        "name": {"zh": "通话", "en": "Calls"},
        "kind": "mean",
        "event_type": "call",
        "window_days": 7,
        "cuped_lookback_days": 10,
        "capping": {"kind": "absolute", "value": 4},
    },
    {
        "key": "deal_p80",
        "name": {"zh": "成交额", "en": "Deal value"},
        "kind": "mean",
        "event_type": "deal_won",
        "aggregate": "sum",
        "window_days": 10,
        "cuped_lookback_days": 5,
        "capping": {"kind": "percentile", "value": 0.8},
    },
    {
        "key": "acceptance",
        "name": {"zh": "采纳率", "en": "Acceptance"},
        "kind": "ratio",
        "event_type": "ai_accepted",
        "denominator": {"event_type": "ai_shown"},
        "window_days": 5,
        "capping": {"kind": "percentile", "value": 0.9},
    },
    {
        "key": "visited",
        "name": {"zh": "到访", "en": "Visited"},
        "kind": "proportion",
        "event_type": "visit",
        "window_days": 3,
        "cuped_lookback_days": 3,
    },
)
#: Event types with the days of the window and lookback that their edges test.
EDGES = {"call": (7, 10), "deal_won": (10, 5), "ai_shown": (5, 0), "visit": (3, 3)}
TYPES = [*EDGES, "ai_accepted"]


def _check(experiment) -> None:
    """The rollup's numbers equal the reference's, for every metric."""
    assert analysis.exposure_counts(experiment) == (
        analysis.reference_exposure_counts(experiment)
    )
    for link in experiment.metric_links:
        metric = link.metric
        for cuped in (False, True):
            got = analysis.variant_stats(experiment, metric, cuped=cuped)
            expected = analysis.reference_variant_stats(experiment, metric, cuped=cuped)
            assert got == expected, (metric.key, cuped)
    for key in ("deal_p80", "visited"):
        metric = services.get_metric(key)
        got = analysis.daily_variant_stats(experiment, metric, cuped=True)
        expected = analysis.reference_daily_variant_stats(
            experiment, metric, cuped=True
        )
        assert got == expected, key


def _events(rng, pool, exposed, count, serial):
    """Random events of units of ``pool``: around their current first exposure
    (or a guess for units not exposed yet), some exactly on a window's or a
    lookback's bound."""
    rows = []
    for _ in range(count):
        unit = pool[int(rng.integers(len(pool)))]
        base = exposed.get(unit, START + timedelta(hours=int(rng.integers(0, 200))))
        kind = TYPES[int(rng.integers(len(TYPES)))]
        window, lookback = EDGES.get(kind, (5, 0))
        edge = rng.random()
        if edge < 0.1:
            at = base
        elif edge < 0.2:
            at = base + timedelta(days=window)
        elif edge < 0.3 and lookback:
            at = base - timedelta(days=lookback)
        else:
            at = base + timedelta(hours=float(rng.uniform(-15 * 24, 14 * 24)))
        value = float(rng.integers(0, 4000)) / 4 if kind == "deal_won" else None
        serial[0] += 1
        rows.append(
            {
                "event_id": f"e{serial[0]}",
                "type": kind,
                "unit_id": unit,
                "value": value,
                "occurred_at": at,
                "source": "api",
            }
        )
    return rows


def _insert_events(rng, rows, backend) -> None:
    """Store events out of time order; on PostgreSQL some as just received."""
    long_ago = utcnow() - timedelta(days=1)
    order = rng.permutation(len(rows))
    for index in order:
        recent = backend == "postgresql" and rng.random() < 0.3
        rows[index]["received_at"] = utcnow() if recent else long_ago
    if rows:
        db.session.execute(sa.insert(Event), [rows[i] for i in order])


@contextmanager
def _insert_in_flight(backend: str, busy: bool):
    """On PostgreSQL, when ``busy``: another session holds the lock every event
    insert holds, so the refresh cannot tell that all ids are committed and
    reads the recently received events live (the path concurrent ingestion
    takes); otherwise it folds everything visible."""
    if backend != "postgresql" or not busy:
        yield
        return
    with db.engine.connect() as other:
        other.exec_driver_sql(
            "SELECT pg_advisory_lock_shared(%(key)s)", {"key": INGEST_LOCK}
        )
        try:
            yield
        finally:
            other.exec_driver_sql(
                "SELECT pg_advisory_unlock_shared(%(key)s)", {"key": INGEST_LOCK}
            )
            other.commit()


@pytest.mark.parametrize("seed", [1, 2])
def test_rollup_matches_reference_on_random_interleavings(
    app, backend, make_experiment, seed
):
    with app.app_context():
        for body in EXTRA_METRICS:
            services.create_metric(body, actor=None)
        db.session.commit()
    make_experiment(
        KEY, secondary_metrics=["deal_value", *(m["key"] for m in EXTRA_METRICS)]
    )
    rng = np.random.default_rng(seed)
    pool = [f"lead-{i}" for i in range(40)]
    serial = [0]
    with app.app_context():
        experiment = services.get_experiment(KEY)
        exposed: dict[str, datetime] = {}
        variants: dict[str, str] = {}
        for step in range(10):
            if step == 6:  # a restart begins a new rollup
                services.restart(experiment, actor=None, reason="new run")
                exposed.clear()
                variants.clear()
            if step == 7:  # a definition changed while not running
                services.update_metric(
                    services.get_metric("calls_capped"), {"window_days": 6}, actor=None
                )
            # Events first, so that some arrive before their unit's exposure.
            _insert_events(rng, _events(rng, pool, exposed, 60, serial), backend)
            for _ in range(int(rng.integers(3, 12))):
                unit = pool[int(rng.integers(len(pool)))]
                if unit in exposed and rng.random() < 0.15:
                    variant = "control" if variants[unit] != "control" else "new_script"
                else:
                    variant = variants.get(unit) or str(
                        rng.choice(["control", "new_script"])
                    )
                variants.setdefault(unit, variant)
                at = START + timedelta(hours=int(rng.integers(0, 200)))
                if unit in exposed and rng.random() < 0.5:  # moves earlier
                    at = exposed[unit] - timedelta(hours=int(rng.integers(1, 30)))
                exposed[unit] = min(at, exposed.get(unit, at))
                services.record_exposures(
                    experiment,
                    [{"unit_id": unit, "variant_key": variant, "first_exposed_at": at}],
                    source="event",
                )
            _insert_events(rng, _events(rng, pool, exposed, 40, serial), backend)
            db.session.commit()
            busy = step % 2 == 1
            with _insert_in_flight(backend, busy):
                _check(experiment)
                if backend == "postgresql":  # the live tail is exercised
                    assert analysis.refresh(experiment).tail is busy
            db.session.commit()
            _check(experiment)  # a refresh with nothing new changes nothing
            db.session.commit()
        assert not db.session.scalar(sa.select(sa.func.count(ExposureChange.id)))
