"""CUPED on sufficient statistics against an independent unit-level computation
(Welch on the adjusted values) and against statsmodels OLS."""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats as sps

from experiments.stats import SampleStats, compare_means, messages


@pytest.fixture
def experiment():
    """2,000 units a variant; pre-period y (gamma), x = 2 + 0.8y + noise, +0.5."""
    rng = np.random.default_rng(2026)
    n = 2000
    yc, yt = rng.gamma(4, 2.5, n), rng.gamma(4, 2.5, n)
    xc = 2.0 + 0.8 * yc + rng.normal(0, 4, n)
    xt = 2.5 + 0.8 * yt + rng.normal(0, 4, n)
    return xc, yc, xt, yt


def compare(xc, yc, xt, yt, **options):
    return compare_means(
        SampleStats.from_values(xc, yc), SampleStats.from_values(xt, yt), **options
    )


def test_cuped_matches_welch_on_adjusted_unit_values(experiment):
    xc, yc, xt, yt = experiment
    got = compare(xc, yc, xt, yt, cuped=True)
    # Expected, computed independently on the units: θ from the pooled arrays
    # (numpy cov / var, ddof 1), x' = x − θ(y − ȳ_pooled), then scipy's Welch
    # test and interval on x'. Identical estimator, so pinned to 1e-8.
    x, y = np.r_[xc, xt], np.r_[yc, yt]
    theta = np.cov(x, y, ddof=1)[0, 1] / np.var(y, ddof=1)
    adj_c = xc - theta * (yc - y.mean())
    adj_t = xt - theta * (yt - y.mean())
    welch = sps.ttest_ind(adj_t, adj_c, equal_var=False)
    ci = welch.confidence_interval(0.95)
    assert got.cuped_applied
    assert got.theta == pytest.approx(theta, rel=1e-9)
    assert got.control_mean == pytest.approx(adj_c.mean(), rel=1e-10)
    assert got.treatment_mean == pytest.approx(adj_t.mean(), rel=1e-10)
    a = got.absolute
    assert a.estimate == pytest.approx(adj_t.mean() - adj_c.mean(), rel=1e-8)
    assert a.p_value == pytest.approx(welch.pvalue, rel=1e-6)
    assert got.df == pytest.approx(welch.df, rel=1e-8)
    assert a.ci_low == pytest.approx(ci.low, rel=1e-8)
    assert a.ci_high == pytest.approx(ci.high, rel=1e-8)
    # Relative lift on adjusted means (delta method written out here).
    vc = adj_c.var(ddof=1) / adj_c.size
    vt = adj_t.var(ddof=1) / adj_t.size
    mc, mt = adj_c.mean(), adj_t.mean()
    rel_se = np.sqrt(vt / mc**2 + mt**2 * vc / mc**4)
    assert got.relative.estimate == pytest.approx(mt / mc - 1, rel=1e-8)
    assert got.relative.std_error == pytest.approx(rel_se, rel=1e-8)


def test_cuped_is_close_to_ols_with_a_centred_covariate(experiment):
    xc, yc, xt, yt = experiment
    got = compare(xc, yc, xt, yt, cuped=True).absolute
    # OLS of x on [1, treatment, y − ȳ]: its θ is the within-variant slope, ours
    # the pooled one (which also sees the between-variant difference). The two
    # differ by O(1/n) in θ, times Δȳ = O(1/√n), so the estimates agree to a
    # tiny share of a standard error; OLS's pooled-residual se equals Welch's
    # up to O(1/n) with equal variants. Tolerances: 1 % of se, 1 % of se.
    x, y = np.r_[xc, xt], np.r_[yc, yt]
    treated = np.r_[np.zeros(xc.size), np.ones(xt.size)]
    design = np.column_stack([np.ones(x.size), treated, y - y.mean()])
    ols = sm.OLS(x, design).fit()
    assert abs(got.estimate - ols.params[1]) < 0.01 * got.std_error
    assert got.std_error == pytest.approx(ols.bse[1], rel=0.01)


def test_variance_reduction_is_about_the_squared_correlation(experiment):
    xc, yc, xt, yt = experiment
    cuped = compare(xc, yc, xt, yt, cuped=True)
    plain = compare(xc, yc, xt, yt)
    # By definition: 1 − Var_cuped(Δ)/Var(Δ), from the two comparisons' se.
    assert cuped.variance_reduction == pytest.approx(
        1 - (cuped.absolute.std_error / plain.absolute.std_error) ** 2, rel=1e-9
    )
    # Deng et al. (2013), eq. 4: Var reduces by the factor 1 − ρ². Here ρ² is the
    # within-variant correlation averaged over the variants (≈ 0.493); sampling
    # noise in θ and unequal ρ per variant: tolerance 0.01.
    rho2 = np.mean([np.corrcoef(xc, yc)[0, 1] ** 2, np.corrcoef(xt, yt)[0, 1] ** 2])
    assert cuped.variance_reduction == pytest.approx(rho2, abs=0.01)
    assert plain.cuped_applied is False
    assert plain.variance_reduction is None


def test_constant_covariate_falls_back(experiment):
    xc, _, xt, _ = experiment
    got = compare(xc, np.full(xc.size, 3.0), xt, np.full(xt.size, 3.0), cuped=True)
    plain = compare(xc, np.zeros(xc.size), xt, np.zeros(xt.size))
    assert got.cuped_applied is False
    assert got.theta is None
    assert messages.NO_COVARIATE_INFORMATION in got.warnings
    assert got.absolute == plain.absolute


def test_covariate_that_only_marks_the_variant_falls_back(experiment):
    # y constant within each variant: var(y) > 0 pooled, but no within-variant
    # information; "adjusting" would just shift the lift.
    xc, _, xt, _ = experiment
    got = compare(xc, np.zeros(xc.size), xt, np.ones(xt.size), cuped=True)
    assert got.cuped_applied is False
    assert messages.NO_COVARIATE_INFORMATION in got.warnings


def test_missing_covariate_falls_back(experiment):
    xc, _, xt, _ = experiment
    got = compare_means(
        SampleStats.from_values(xc), SampleStats.from_values(xt), cuped=True
    )
    assert got.cuped_applied is False
    assert got.to_dict()["theta"] is None
