"""Sample ratio mismatch against scipy.stats.chisquare on the same counts."""

import json

import pytest
from scipy.stats import chisquare

from experiments.stats import messages, srm


def test_matches_scipy_with_unequal_weights():
    counts = {"control": 4100, "a": 2950, "b": 3050}
    weights = {"control": 0.4, "a": 0.3, "b": 0.3}
    got = srm(counts, weights)
    # Expected: scipy.stats.chisquare(observed, expected = weight × total).
    expected = chisquare([4100, 2950, 3050], [4040.0, 3030.0, 3030.0])
    assert got.chi2 == pytest.approx(expected.statistic, rel=1e-12)
    assert got.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert got.expected == {"control": 4040.0, "a": 3030.0, "b": 3030.0}
    json.dumps(got.to_dict(), allow_nan=False)


def test_fifty_fifty_5000_vs_5300_is_not_flagged_at_0_001():
    # scipy 1.17.1 chisquare([5000, 5300]): χ² = 8.737864077669903,
    # p = 0.003116693839866867 — unlikely, but above the 0.001 alarm.
    got = srm({"control": 5000, "treatment": 5300}, {"control": 1, "treatment": 1})
    assert got.chi2 == pytest.approx(8.737864077669903, rel=1e-12)
    assert got.p_value == pytest.approx(0.003116693839866867, rel=1e-10)
    assert got.flag is False
    assert srm({"c": 5000, "t": 5300}, {"c": 1, "t": 1}, threshold=0.01).flag


def test_fifty_fifty_5000_vs_5400_is_flagged():
    # scipy 1.17.1 chisquare([5000, 5400]): p = 8.769942375590228e-05.
    got = srm({"control": 5000, "treatment": 5400}, {"control": 50, "treatment": 50})
    assert got.p_value == pytest.approx(8.769942375590228e-05, rel=1e-10)
    assert got.flag is True
    assert got.warnings == (messages.SRM,)


def test_fifty_fifty_5000_vs_5050_is_fine():
    # scipy 1.17.1 chisquare([5000, 5050]): p = 0.6179522266795625.
    got = srm({"control": 5000, "treatment": 5050}, {"control": 1, "treatment": 1})
    assert got.p_value == pytest.approx(0.6179522266795625, rel=1e-10)
    assert got.flag is False
    assert got.warnings == ()


def test_no_units_is_undefined_not_flagged():
    got = srm({}, {"control": 0.5, "treatment": 0.5})
    assert got.p_value is None
    assert got.flag is False
    assert got.to_dict()["counts"] == {"control": 0, "treatment": 0}


def test_counts_of_an_unknown_variant_are_an_error():
    with pytest.raises(ValueError, match="without a weight"):
        srm({"control": 10, "ghost": 3}, {"control": 1, "treatment": 1})
