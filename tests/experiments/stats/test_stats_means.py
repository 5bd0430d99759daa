"""Welch's t-test on sufficient statistics against scipy on the unit-level data,
and the delta-method relative lift against an independent computation."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from experiments.stats import SampleStats, compare_means, messages


def scipy_welch(control, treatment, alpha=0.05):
    """Expected values: scipy.stats.ttest_ind(equal_var=False) on the raw arrays."""
    result = sps.ttest_ind(treatment, control, equal_var=False)
    ci = result.confidence_interval(1 - alpha)
    return result, ci


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_welch_matches_scipy_on_lognormal_data(alpha):
    rng = np.random.default_rng(20260101)
    control = rng.lognormal(3.0, 0.8, 730)
    treatment = rng.lognormal(3.05, 0.9, 610)
    got = compare_means(
        SampleStats.from_values(control),
        SampleStats.from_values(treatment),
        alpha=alpha,
    )
    expected, ci = scipy_welch(control, treatment, alpha)
    a = got.absolute
    assert a.estimate == pytest.approx(treatment.mean() - control.mean(), rel=1e-9)
    assert a.estimate / a.std_error == pytest.approx(expected.statistic, rel=1e-8)
    assert got.df == pytest.approx(expected.df, rel=1e-8)
    assert a.p_value == pytest.approx(expected.pvalue, rel=1e-7)
    assert a.ci_low == pytest.approx(ci.low, rel=1e-8)
    assert a.ci_high == pytest.approx(ci.high, rel=1e-8)
    assert got.warnings == ()


def test_proportions_match_scipy_on_zero_one_data():
    rng = np.random.default_rng(7)
    control = (rng.random(1200) < 0.18).astype(float)
    treatment = (rng.random(1150) < 0.22).astype(float)
    c, t = SampleStats.from_values(control), SampleStats.from_values(treatment)
    assert c.sum_sq == c.sum  # x is 0/1
    got = compare_means(c, t)
    expected, ci = scipy_welch(control, treatment)
    assert got.absolute.p_value == pytest.approx(expected.pvalue, rel=1e-7)
    assert got.df == pytest.approx(expected.df, rel=1e-8)
    assert got.absolute.ci_low == pytest.approx(ci.low, rel=1e-8)
    assert got.absolute.ci_high == pytest.approx(ci.high, rel=1e-8)


def test_published_welch_example():
    # The data of example 1 in Wikipedia's "Welch's t-test" article (A1 vs A2;
    # published t ≈ −2.46, p ≈ 0.021). Full digits: scipy 1.17.1
    # ttest_ind(A1, A2, equal_var=False): t −2.455356398286006,
    # df 24.988529290231416, p 0.021378001462866992,
    # CI (−3.984096267140929, −0.3492370661924069).
    a1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1]
    a1 += [21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]
    a2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0]
    a2 += [24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]
    got = compare_means(SampleStats.from_values(a2), SampleStats.from_values(a1))
    a = got.absolute
    assert a.estimate / a.std_error == pytest.approx(-2.455356398286006, rel=1e-9)
    assert got.df == pytest.approx(24.988529290231416, rel=1e-9)
    assert a.p_value == pytest.approx(0.021378001462866992, rel=1e-8)
    assert a.ci_low == pytest.approx(-3.984096267140929, rel=1e-9)
    assert a.ci_high == pytest.approx(-0.3492370661924069, rel=1e-9)
    assert messages.LOW_SAMPLE in got.warnings  # 15 units a variant


def test_relative_lift_delta_method():
    rng = np.random.default_rng(99)
    control = rng.normal(40.0, 12.0, 900)
    treatment = rng.normal(42.0, 14.0, 800)
    got = compare_means(
        SampleStats.from_values(control), SampleStats.from_values(treatment)
    ).relative
    # Expected: the delta method written out here from the raw arrays,
    # Var(x̄t)/x̄c² + x̄t²·Var(x̄c)/x̄c⁴, with the Welch df and t quantile.
    mc, mt = control.mean(), treatment.mean()
    vc = control.var(ddof=1) / control.size
    vt = treatment.var(ddof=1) / treatment.size
    df = (vc + vt) ** 2 / (vc**2 / (control.size - 1) + vt**2 / (treatment.size - 1))
    lift = mt / mc - 1
    se = math.sqrt(vt / mc**2 + mt**2 * vc / mc**4)
    q = sps.t.ppf(0.975, df)
    assert got.estimate == pytest.approx(lift, rel=1e-10)
    assert got.std_error == pytest.approx(se, rel=1e-8)
    assert got.ci_low == pytest.approx(lift - q * se, rel=1e-8)
    assert got.ci_high == pytest.approx(lift + q * se, rel=1e-8)
    assert got.p_value == pytest.approx(2 * sps.t.sf(lift / se, df), rel=1e-7)


def test_relative_standard_error_is_absolute_over_control_when_control_is_exact():
    # Sanity check of the formula: with a (near) noiseless control the delta
    # variance reduces to Var(x̄t)/x̄c², i.e. se_rel = se_abs / x̄c.
    rng = np.random.default_rng(3)
    control = 50 + rng.normal(0, 1e-6, 1000)
    treatment = rng.normal(55, 10, 1000)
    got = compare_means(
        SampleStats.from_values(control), SampleStats.from_values(treatment)
    )
    assert got.relative.std_error == pytest.approx(
        got.absolute.std_error / got.control_mean, rel=1e-8
    )


def test_zero_control_mean_gives_no_relative_lift():
    got = compare_means(SampleStats(200, 0.0, 0.0), SampleStats(200, 8.0, 8.0))
    assert got.relative is None
    assert messages.ZERO_CONTROL_MEAN in got.warnings
    assert got.absolute.estimate == pytest.approx(0.04, rel=1e-12)
    assert got.to_dict()["relative"] is None


def test_negative_control_mean_keeps_the_sign_of_the_absolute_lift():
    rng = np.random.default_rng(5)
    control = rng.normal(-10, 3, 500)
    treatment = rng.normal(-9, 3, 500)
    got = compare_means(
        SampleStats.from_values(control), SampleStats.from_values(treatment)
    )
    assert messages.NEGATIVE_CONTROL_MEAN in got.warnings
    assert got.relative.estimate > 0
    assert got.relative.estimate == pytest.approx(
        (treatment.mean() - control.mean()) / abs(control.mean()), rel=1e-10
    )


def test_no_variance():
    got = compare_means(SampleStats(300, 300.0, 300.0), SampleStats(300, 0.0, 0.0))
    assert messages.NO_VARIANCE in got.warnings
    assert got.absolute.estimate == -1.0
    assert got.absolute.std_error == 0.0
    assert math.isnan(got.absolute.p_value)
    assert got.to_dict()["absolute"]["p_value"] is None


def test_fewer_than_two_units_is_undefined_not_an_error():
    got = compare_means(SampleStats(1, 5.0, 25.0), SampleStats(40, 80.0, 200.0))
    assert messages.LOW_SAMPLE in got.warnings
    assert got.absolute.estimate == pytest.approx(-3.0)
    assert math.isnan(got.absolute.p_value)
    assert got.df is None


def test_alpha_is_checked():
    with pytest.raises(ValueError, match="alpha"):
        compare_means(SampleStats(5, 1.0, 1.0), SampleStats(5, 1.0, 1.0), alpha=1.5)
