"""Ratio metrics: the delta method (Deng, Knoblich & Lu 2018) against a direct
numpy computation of the paper's formula and against simulation."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from experiments.stats import SampleStats, compare_ratios, messages


def units(rng, n, rate):
    """Per unit: y = AI suggestions shown (1 + Poisson(4)), x = accepted."""
    shown = 1 + rng.poisson(4.0, n)
    return rng.binomial(shown, rate).astype(float), shown.astype(float)


def deng_variance(x, y):
    """Expected: Var(R̂) ≈ (1/n)(σx²/μy² − 2μxσxy/μy³ + μx²σy²/μy⁴), written
    from Deng, Knoblich & Lu (2018), section 3, on the raw arrays."""
    mx, my = x.mean(), y.mean()
    vx, vy = x.var(ddof=1), y.var(ddof=1)
    cxy = np.cov(x, y, ddof=1)[0, 1]
    return (vx / my**2 - 2 * mx * cxy / my**3 + mx**2 * vy / my**4) / x.size


def test_delta_method_matches_the_formula_on_unit_data():
    rng = np.random.default_rng(41)
    xc, yc = units(rng, 800, 0.30)
    xt, yt = units(rng, 760, 0.33)
    got = compare_ratios(
        SampleStats.from_values(xc, yc), SampleStats.from_values(xt, yt)
    )
    rc, rt = xc.sum() / yc.sum(), xt.sum() / yt.sum()
    vc, vt = deng_variance(xc, yc), deng_variance(xt, yt)
    z = sps.norm.ppf(0.975)
    assert got.control_mean == pytest.approx(rc, rel=1e-12)
    assert got.treatment_mean == pytest.approx(rt, rel=1e-12)
    assert got.df is None
    a = got.absolute
    se = math.sqrt(vc + vt)
    assert a.estimate == pytest.approx(rt - rc, rel=1e-10)
    assert a.std_error == pytest.approx(se, rel=1e-8)
    assert a.ci_low == pytest.approx(rt - rc - z * se, rel=1e-8)
    assert a.ci_high == pytest.approx(rt - rc + z * se, rel=1e-8)
    assert a.p_value == pytest.approx(2 * sps.norm.sf(abs(rt - rc) / se), rel=1e-7)
    r = got.relative
    rel_se = math.sqrt(vt / rc**2 + rt**2 * vc / rc**4)
    assert r.estimate == pytest.approx(rt / rc - 1, rel=1e-10)
    assert r.std_error == pytest.approx(rel_se, rel=1e-8)
    assert r.p_value == pytest.approx(2 * sps.norm.sf(abs(rt / rc - 1) / rel_se))


def test_delta_method_standard_error_matches_simulation():
    # Sanity check against simulation: the spread of R̂_t − R̂_c over 2,000
    # simulated A/A pairs of 400-unit variants versus the delta-method se (the sd
    # of an sd estimated from 2,000 draws is ≈ 1.6 %, so 5 % is three of them).
    rng = np.random.default_rng(5)
    shown = (1 + rng.poisson(4.0, (2, 2000, 400))).astype(float)
    accepted = rng.binomial(shown.astype(int), 0.3).astype(float)
    ratios = accepted.sum(axis=2) / shown.sum(axis=2)
    simulated_sd = (ratios[1] - ratios[0]).std(ddof=1)
    predicted = [
        compare_ratios(
            SampleStats.from_values(accepted[0, i], shown[0, i]),
            SampleStats.from_values(accepted[1, i], shown[1, i]),
        ).absolute.std_error
        for i in range(200)
    ]
    assert np.median(predicted) == pytest.approx(simulated_sd, rel=0.05)


def test_zero_denominator_is_undefined_with_a_warning():
    got = compare_ratios(
        SampleStats(50, 0.0, 0.0), SampleStats(50, 10.0, 20.0, 40.0, 80.0, 20.0)
    )
    assert messages.ZERO_DENOMINATOR in got.warnings
    assert math.isnan(got.absolute.estimate)
    assert got.to_dict()["absolute"]["estimate"] is None


def test_zero_control_ratio_gives_no_relative_lift():
    rng = np.random.default_rng(8)
    _, yc = units(rng, 300, 0.3)
    xt, yt = units(rng, 300, 0.3)
    got = compare_ratios(
        SampleStats.from_values(np.zeros(yc.size), yc), SampleStats.from_values(xt, yt)
    )
    assert got.relative is None
    assert messages.ZERO_CONTROL_MEAN in got.warnings
    assert got.absolute.estimate == pytest.approx(xt.sum() / yt.sum())
