"""Always-valid intervals against an independent implementation of the
normal-mixture confidence sequence (Waudby-Smith et al. 2023, eq. 9 and 161)."""

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from experiments.stats import (
    Comparison,
    Estimate,
    SampleStats,
    compare_means,
    sequential,
)


def reference_halfwidth(se, n, tuning, alpha, level=None):
    """Eq. 9 with ρ from eq. 161, written out; ``level`` overrides α in the log
    only (ρ stays fixed by the nominal α), as for the p-value."""
    log_a = math.log(alpha)
    rho = math.sqrt((-2 * log_a + math.log(-2 * log_a + 1)) / tuning)
    sigma = se * math.sqrt(n)
    level = alpha if level is None else level
    bound = (2 * (n * rho**2 + 1) / (n**2 * rho**2)) * math.log(
        math.sqrt(n * rho**2 + 1) / level
    )
    return sigma * math.sqrt(bound)


def compare_like(se):
    """A fixed-horizon comparison with absolute lift 0.5 ± z·se (z, no df)."""
    z = norm.ppf(0.975)
    absolute = Estimate(0.5, 0.5 - z * se, 0.5 + z * se, 2 * norm.sf(0.5 / se), se)
    return Comparison(10.0, 10.5, absolute, None, None, False, None, None, ())


@pytest.fixture
def fixed():
    rng = np.random.default_rng(17)
    control = SampleStats.from_values(rng.normal(100, 30, 1500))
    treatment = SampleStats.from_values(rng.normal(104, 30, 1500))
    return compare_means(control, treatment)


def test_matches_an_independent_implementation(fixed):
    got = sequential(fixed, n=3000, tuning=5000, alpha=0.05)
    for fixed_estimate, valid in (
        (fixed.absolute, got.absolute),
        (fixed.relative, got.relative),
    ):
        half = reference_halfwidth(fixed_estimate.std_error, 3000, 5000, 0.05)
        assert valid.estimate == fixed_estimate.estimate
        assert valid.std_error == fixed_estimate.std_error
        assert valid.ci_low == pytest.approx(fixed_estimate.estimate - half, rel=1e-10)
        assert valid.ci_high == pytest.approx(fixed_estimate.estimate + half, rel=1e-10)
        # Expected p: the smallest α' whose sequence (same ρ) excludes 0, found
        # by root-finding on the half-width rather than the closed form.
        p = brentq(
            lambda level, e=fixed_estimate: (
                reference_halfwidth(e.std_error, 3000, 5000, 0.05, level)
                - abs(e.estimate)
            ),
            1e-300,
            1.0,
            xtol=1e-300,
            rtol=1e-13,
        )
        assert valid.p_value == pytest.approx(p, rel=1e-8)
    assert got.always_valid is True
    assert got.df is None
    assert fixed.always_valid is False  # a copy, the input is untouched


def test_p_value_and_interval_agree(fixed):
    for n in (200, 1000, 3000, 20000):
        got = sequential(fixed, n=n, tuning=3000)
        excludes_zero = got.absolute.ci_low > 0 or got.absolute.ci_high < 0
        assert (got.absolute.p_value < 0.05) == excludes_zero


def test_wider_than_fixed_horizon_everywhere_and_closest_near_tuning():
    se_per_unit, tuning, alpha = 1.0, 4000, 0.05
    ns = np.unique(np.geomspace(10, 200_000, 400).astype(int))
    ratios = []
    for n in ns:
        se = se_per_unit / math.sqrt(n)
        got = sequential(
            compare_like(se), n=int(n), tuning=tuning, alpha=alpha
        ).absolute
        fixed_half = norm.ppf(1 - alpha / 2) * se
        ratios.append((got.ci_high - got.estimate) / fixed_half)
    ratios = np.array(ratios)
    assert (ratios > 1).all()
    best = ns[int(np.argmin(ratios))]
    # Eq. 161 approximates the optimum: the exact minimum sits 3.5 % above N*.
    assert 0.95 * tuning <= best <= 1.1 * tuning


def test_undefined_estimates_are_left_alone():
    got = compare_means(SampleStats(300, 300.0, 300.0), SampleStats(300, 0.0, 0.0))
    valid = sequential(got, n=600, tuning=1000)
    assert valid.absolute == got.absolute  # zero se: no interval either way
    assert valid.relative == got.relative


def test_alpha_defaults_to_the_comparison_and_inputs_are_checked(fixed):
    loose = compare_means(
        SampleStats(100, 50.0, 60.0), SampleStats(100, 60.0, 80.0), alpha=0.2
    )
    assert sequential(loose, n=200, tuning=1000).alpha == 0.2
    with pytest.raises(ValueError):
        sequential(fixed, n=0, tuning=1000)
