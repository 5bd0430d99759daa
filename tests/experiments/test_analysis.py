"""The SQL sufficient statistics against the same numbers computed in Python from
the raw rows: windows, lookbacks, proportions, sums, caps, ratios, exclusions."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from experiments import analysis, ingest, services
from proving_ground.db import db

START = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def scenario(app, make_experiment, manager):
    """An experiment with 60 units, events around their windows, and edge cases."""
    make_experiment()
    rng = np.random.default_rng(7)
    with app.app_context():
        experiment = services.get_experiment("price-objection-script")
        services.create_metric(
            {
                "key": "calls",
                "name": {"zh": "通话", "en": "Calls"},
                "kind": "mean",
                "event_type": "call",
                "window_days": 7,
                "cuped_lookback_days": 10,
            },
            actor=None,
        )
        services.create_metric(
            {
                "key": "acceptance",
                "name": {"zh": "采纳率", "en": "Acceptance"},
                "kind": "ratio",
                "event_type": "ai_accepted",
                "denominator": {"event_type": "ai_shown"},
            },
            actor=None,
        )
        units, events = {}, []
        for i in range(60):
            unit = f"lead-{i}"
            exposed = START + timedelta(hours=int(rng.integers(0, 240)))
            variant = services.assign(experiment, unit, at=exposed)
            units[unit] = (variant, exposed)
            for j in range(int(rng.integers(0, 6))):  # deals, some outside the window
                at = exposed + timedelta(days=float(rng.uniform(-12, 40)))
                events.append(("deal_won", unit, at, float(rng.lognormal(10, 1)), j))
            for j in range(int(rng.integers(0, 8))):
                at = exposed + timedelta(days=float(rng.uniform(-15, 10)))
                events.append(("call", unit, at, None, j))
            shown = int(rng.integers(0, 6))
            for j in range(shown):
                at = exposed + timedelta(days=float(rng.uniform(0, 20)))
                events.append(("ai_shown", unit, at, None, j))
                if rng.random() < 0.5:
                    events.append(("ai_accepted", unit, at, None, j))
        # Edge cases: exactly at exposure (in), exactly at window end (out).
        variant, exposed = units["lead-0"]
        events.append(("call", "lead-0", exposed, None, 100))
        events.append(("call", "lead-0", exposed + timedelta(days=7), None, 101))
        # A unit exposed to both variants is left out.
        other = "new_script" if units["lead-1"][0] == "control" else "control"
        services.record_exposures(
            experiment,
            [{"unit_id": "lead-1", "variant_key": other, "first_exposed_at": START}],
            source="event",
        )
        # Events of a never-exposed unit are ignored.
        events.append(("deal_won", "stranger", START + timedelta(days=1), 5.0, 0))
        batch = [
            {
                "event_id": f"{kind}-{unit}-{j}",
                "type": kind,
                "unit_id": unit,
                "occurred_at": at.isoformat(),
                **({"value": value} if value is not None else {}),
            }
            for kind, unit, at, value, j in events
        ]
        for start in range(0, len(batch), 1000):
            result = ingest.ingest(
                batch[start : start + 1000], now=START + timedelta(days=400)
            )
            assert not result.rejected, result.rejected[:3]
        db.session.commit()
    yield app, "price-objection-script", units, events


def _expected(units, events, *, types, aggregate, window, lookback=None, kind="mean"):
    """Per variant (n, Σx, Σx², Σy, Σy², Σxy) computed in Python."""
    per_unit = {}
    for unit, (variant, exposed) in units.items():
        if unit == "lead-1":
            continue
        x = y = 0.0
        for kind_, u, at, value, _j in events:
            if u != unit or kind_ not in types:
                continue
            amount = value if aggregate == "sum" else 1.0
            if exposed <= at < exposed + timedelta(days=window):
                x += amount
            elif lookback and exposed - timedelta(days=lookback) <= at < exposed:
                y += amount
        if kind == "proportion":
            x, y = float(x > 0), float(y > 0) if lookback else 0.0
        per_unit[unit] = (variant, x, y)
    return per_unit


def _sums(per_unit, variant, cap=None):
    rows = [(x, y) for v, x, y in per_unit.values() if v == variant]
    xs = np.array([min(x, cap) if cap is not None else x for x, _ in rows])
    ys = np.array([min(y, cap) if cap is not None else y for _, y in rows])
    return len(rows), xs.sum(), (xs**2).sum(), ys.sum(), (ys**2).sum(), (xs * ys).sum()


def _assert_matches(stats, per_unit, cap=None):
    for variant in ("control", "new_script"):
        got = stats[variant]
        n, sx, sxx, sy, syy, sxy = _sums(per_unit, variant, cap)
        assert got.n == n
        assert got.sum == pytest.approx(sx, rel=1e-9)
        assert got.sum_sq == pytest.approx(sxx, rel=1e-9)
        assert got.y_sum == pytest.approx(sy, rel=1e-9, abs=1e-9)
        assert got.y_sum_sq == pytest.approx(syy, rel=1e-9, abs=1e-9)
        assert got.xy_sum == pytest.approx(sxy, rel=1e-9, abs=1e-9)


def test_mean_with_cuped_covariate(scenario):
    app, key, units, events = scenario
    with app.app_context():
        experiment = services.get_experiment(key)
        stats = analysis.variant_stats(
            experiment, services.get_metric("calls"), cuped=True
        )
    per_unit = _expected(
        units, events, types={"call"}, aggregate="count", window=7, lookback=10
    )
    _assert_matches(stats, per_unit)
    assert per_unit["lead-0"][1] >= 1  # the event at the exposure instant counts


def test_proportion_sum_and_caps(scenario):
    app, key, units, events = scenario
    with app.app_context():
        experiment = services.get_experiment(key)
        converted = analysis.variant_stats(experiment, services.get_metric("converted"))
        _assert_matches(
            converted,
            _expected(
                units,
                events,
                types={"deal_won"},
                aggregate="count",
                window=30,
                kind="proportion",
            ),
        )
        deal_value = services.get_metric("deal_value")
        plain = analysis.variant_stats(experiment, deal_value)
        per_unit = _expected(
            units, events, types={"deal_won"}, aggregate="sum", window=30
        )
        _assert_matches(plain, per_unit)
        deal_value.cap_kind, deal_value.cap_value = "absolute", 40_000.0
        _assert_matches(
            analysis.variant_stats(experiment, deal_value), per_unit, cap=40_000.0
        )
        deal_value.cap_kind, deal_value.cap_value = "percentile", 0.9
        values = sorted(x for _v, x, _y in per_unit.values())
        cap = values[int(0.9 * (len(values) - 1))]
        _assert_matches(
            analysis.variant_stats(experiment, deal_value), per_unit, cap=cap
        )
        db.session.rollback()


def test_ratio_numerator_and_denominator(scenario):
    app, key, units, events = scenario
    with app.app_context():
        experiment = services.get_experiment(key)
        stats = analysis.variant_stats(experiment, services.get_metric("acceptance"))
    numerator = _expected(
        units, events, types={"ai_accepted"}, aggregate="count", window=30
    )
    denominator = _expected(
        units, events, types={"ai_shown"}, aggregate="count", window=30
    )
    per_unit = {u: (v, x, denominator[u][1]) for u, (v, x, _y) in numerator.items()}
    _assert_matches(stats, per_unit)


def test_exposure_counts_leave_out_multiple_exposures(scenario):
    app, key, units, _events = scenario
    with app.app_context():
        counts = analysis.exposure_counts(services.get_experiment(key))
    assert counts.multiple == 1
    assert sum(counts.per_variant.values()) == len(units) - 1
