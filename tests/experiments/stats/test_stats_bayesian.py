"""Chance to win, risk and the posterior against closed forms computed here and
numerical integration (scipy.integrate.quad)."""

import dataclasses
import math

import pytest
from scipy import integrate
from scipy.stats import norm

from experiments.stats import Comparison, Estimate, bayesian


def comparison(lift, se, alpha=0.05):
    """A comparison whose relative lift is N(lift, se²)."""
    relative = Estimate(lift, lift - 1.96 * se, lift + 1.96 * se, 0.5, se)
    absolute = Estimate(lift * 10, math.nan, math.nan, 0.5, se * 10)
    return Comparison(
        control_mean=10.0,
        treatment_mean=10.0 + lift * 10,
        absolute=absolute,
        relative=relative,
        df=500.0,
        cuped_applied=False,
        theta=None,
        variance_reduction=None,
        warnings=(),
        alpha=alpha,
    )


def loss(mean, sd, sign):
    """E[max(sign·X, 0)] for X ~ N(mean, sd²), by quadrature."""

    def integrand(x):
        return max(sign * x, 0.0) * norm.pdf(x, mean, sd)

    return integrate.quad(
        integrand,
        mean - 12 * sd,
        mean + 12 * sd,
        points=[0.0],
        epsabs=1e-13,
        epsrel=1e-11,
        limit=200,
    )[0]


@pytest.mark.parametrize(
    ("lift", "se"), [(0.03, 0.02), (-0.01, 0.015), (0.0, 0.05), (0.2, 0.04)]
)
def test_flat_prior(lift, se):
    got = bayesian(comparison(lift, se))
    # Expected: posterior = likelihood N(lift, se²); Φ from scipy.stats.norm;
    # risks by numerical integration of the normal density.
    assert got.posterior_mean == lift
    assert got.posterior_sd == se
    assert got.chance_to_win == pytest.approx(norm.cdf(lift / se), rel=1e-12)
    assert got.risk == pytest.approx(loss(lift, se, -1), rel=1e-7, abs=1e-14)
    assert got.risk_control == pytest.approx(loss(lift, se, +1), rel=1e-7, abs=1e-14)
    assert got.ci_low == pytest.approx(norm.ppf(0.025, lift, se), rel=1e-10)
    assert got.ci_high == pytest.approx(norm.ppf(0.975, lift, se), rel=1e-10)


def test_lower_is_better_flips_the_direction():
    up = bayesian(comparison(0.03, 0.02))
    down = bayesian(comparison(0.03, 0.02), higher_is_better=False)
    assert down.chance_to_win == pytest.approx(norm.cdf(-0.03 / 0.02), rel=1e-12)
    # Choosing the treatment now loses when L > 0: E[max(L, 0)].
    assert down.risk == pytest.approx(loss(0.03, 0.02, +1), rel=1e-7)
    assert down.risk == up.risk_control
    assert down.risk_control == up.risk


def test_proper_prior_is_the_conjugate_normal_posterior():
    lift, se, m0, tau = 0.08, 0.03, 0.0, 0.05
    got = bayesian(comparison(lift, se), prior_mean=m0, prior_sd=tau)
    # Expected: conjugate normal formulas (Gelman et al., BDA3, section 2.5).
    precision = 1 / se**2 + 1 / tau**2
    mean = (lift / se**2 + m0 / tau**2) / precision
    assert got.posterior_mean == pytest.approx(mean, rel=1e-12)
    assert got.posterior_sd == pytest.approx(precision**-0.5, rel=1e-12)
    assert got.chance_to_win == pytest.approx(
        norm.cdf(mean * precision**0.5), rel=1e-12
    )

    # Independently: the mean of prior × likelihood by quadrature.
    def density(x):
        return norm.pdf(x, m0, tau) * norm.pdf(lift, x, se)

    mass = integrate.quad(density, -1, 1, epsabs=1e-14)[0]
    first = integrate.quad(lambda x: x * density(x), -1, 1, epsabs=1e-14)[0]
    assert got.posterior_mean == pytest.approx(first / mass, rel=1e-8)


def test_credible_level_follows_alpha():
    got = bayesian(comparison(0.05, 0.02, alpha=0.1))
    assert got.ci_high == pytest.approx(norm.ppf(0.95, 0.05, 0.02), rel=1e-10)


def test_undefined_without_a_relative_lift():
    base = comparison(0.03, 0.02)
    no_relative = dataclasses.replace(base, relative=None)
    got = bayesian(no_relative)
    assert math.isnan(got.chance_to_win)
    assert set(got.to_dict().values()) == {None}
    with pytest.raises(ValueError, match="prior_sd"):
        bayesian(base, prior_sd=0)
