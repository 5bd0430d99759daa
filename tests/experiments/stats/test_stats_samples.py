"""SampleStats moments against numpy on the unit-level values, summarise() and
the JSON form of results."""

import json
import math

import numpy as np
import pytest

from experiments.stats import SampleStats, combine, compare_means, summarise


@pytest.fixture
def values():
    rng = np.random.default_rng(11)
    y = rng.gamma(3.0, 2.0, 400)
    x = 5 + 0.7 * y + rng.normal(0, 2, 400)
    return x, y


def test_moments_match_numpy(values):
    x, y = values
    s = SampleStats.from_values(x, y)
    # Expected: numpy's mean, var(ddof=1), cov(ddof=1) on the raw arrays.
    assert s.n == 400
    assert s.mean == pytest.approx(np.mean(x), rel=1e-12)
    assert s.y_mean == pytest.approx(np.mean(y), rel=1e-12)
    assert s.variance == pytest.approx(np.var(x, ddof=1), rel=1e-9)
    assert s.y_variance == pytest.approx(np.var(y, ddof=1), rel=1e-9)
    assert s.covariance == pytest.approx(np.cov(x, y, ddof=1)[0, 1], rel=1e-9)


def test_combine_is_the_union(values):
    x, y = values
    whole = SampleStats.from_values(x, y)
    parts = combine(
        SampleStats.from_values(x[:150], y[:150]),
        SampleStats.from_values(x[150:], y[150:]),
    )
    assert parts.n == whole.n
    assert parts.covariance == pytest.approx(whole.covariance, rel=1e-10)


def test_constant_values_have_exactly_zero_variance():
    # Σx² − (Σx)²/n is round-off for a constant 3.7; it must read as 0, not 1e-15.
    s = SampleStats.from_values(np.full(1000, 3.7), np.full(1000, 0.1))
    assert s.variance == 0.0
    assert s.y_variance == 0.0
    assert s.covariance == 0.0


def test_undefined_moments_are_nan():
    assert math.isnan(SampleStats(0, 0.0, 0.0).mean)
    assert math.isnan(SampleStats(1, 2.0, 4.0).variance)


def test_summarise(values):
    x, _ = values
    # Expected: numpy mean and std(ddof=1).
    summary = summarise(SampleStats.from_values(x))
    assert summary["n"] == 400
    assert summary["mean"] == pytest.approx(np.mean(x), rel=1e-12)
    assert summary["std"] == pytest.approx(np.std(x, ddof=1), rel=1e-9)
    assert summarise(SampleStats(0, 0.0, 0.0)) == {"n": 0, "mean": None, "std": None}
    assert summarise(SampleStats(1, 2.0, 4.0)) == {"n": 1, "mean": 2.0, "std": None}


@pytest.mark.parametrize(
    ("control", "treatment"),
    [
        (SampleStats(0, 0.0, 0.0), SampleStats(0, 0.0, 0.0)),
        (SampleStats(1, 1.0, 1.0), SampleStats(5, 2.0, 2.0)),
        (SampleStats(50, 0.0, 0.0), SampleStats(50, 0.0, 0.0)),
        (SampleStats(50, 0.0, 0.0), SampleStats(50, 10.0, 10.0)),
    ],
)
def test_degenerate_results_serialise_without_nan(control, treatment):
    result = compare_means(control, treatment, cuped=True).to_dict()
    json.dumps(result, allow_nan=False)  # raises on NaN or inf
