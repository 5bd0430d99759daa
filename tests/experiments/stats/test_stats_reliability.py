"""The engine's promises, checked by simulation at the level of sufficient
statistics (numpy draws, reduced per simulated variant, then the engine):

1. A/A: with no effect, p < 0.05 about 5 % of the time;
2. peeking: always-valid p-values looked at 10 times stay below 5 % false alarms;
3. coverage: 95 % intervals cover the true lift 93–97 % of the time;
4. power: a known effect is found as often as statsmodels' power says.

Seeds are fixed, so every test is deterministic. The binomial error of a 5 %
rate over 2,000 simulations is 0.49 points, of 95 % also 0.49, of ~70 % power
1.0 point: the acceptance bands are three or more of those.
"""

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize

from experiments.stats import SampleStats, compare_means, compare_ratios, sequential

SIMULATIONS = 2000


def reduce(x, y=None):
    """SampleStats of each row of ``x`` (rows = simulated variants), as SQL sums."""
    y = np.zeros_like(x) if y is None else y
    n = x.shape[-1]
    sums = zip(
        x.sum(-1),
        (x * x).sum(-1),
        y.sum(-1),
        (y * y).sum(-1),
        (x * y).sum(-1),
        strict=True,
    )
    return [SampleStats(n, *map(float, row)) for row in sums]


def correlated(rng, shape, effect=0.0):
    """Metric x with a pre-period covariate y: y ~ N(20, 5²),
    x = 10 + effect + 0.5(y − 20) + N(0, 3²); corr(x, y)² ≈ 0.41."""
    y = rng.normal(20.0, 5.0, shape)
    x = 10.0 + effect + 0.5 * (y - 20.0) + rng.normal(0.0, 3.0, shape)
    return x, y


def rejection_rate(comparisons):
    return np.mean([c.absolute.p_value < 0.05 for c in comparisons])


def test_aa_lognormal_means():
    rng = np.random.default_rng(101)
    data = rng.lognormal(3.0, 1.0, (2, SIMULATIONS, 500))
    controls, treatments = reduce(data[0]), reduce(data[1])
    rate = rejection_rate(map(compare_means, controls, treatments))
    assert 0.035 <= rate <= 0.065


def test_aa_means_with_cuped():
    rng = np.random.default_rng(102)
    x, y = correlated(rng, (2, SIMULATIONS, 500))
    comparisons = [
        compare_means(c, t, cuped=True)
        for c, t in zip(reduce(x[0], y[0]), reduce(x[1], y[1]), strict=True)
    ]
    assert all(c.cuped_applied for c in comparisons)
    assert 0.035 <= rejection_rate(comparisons) <= 0.065


def test_aa_proportions():
    # 0/1 units: the sufficient statistics are Σx = Σx² ~ Binomial(500, 0.2).
    rng = np.random.default_rng(103)
    conversions = rng.binomial(500, 0.2, (2, SIMULATIONS)).astype(float)
    comparisons = [
        compare_means(SampleStats(500, c, c), SampleStats(500, t, t))
        for c, t in zip(conversions[0], conversions[1], strict=True)
    ]
    assert 0.035 <= rejection_rate(comparisons) <= 0.065


def test_aa_ratios():
    rng = np.random.default_rng(104)
    shown = 1.0 + rng.poisson(4.0, (2, SIMULATIONS, 500))
    accepted = rng.binomial(shown.astype(int), 0.3).astype(float)
    controls = reduce(accepted[0], shown[0])
    treatments = reduce(accepted[1], shown[1])
    rate = rejection_rate(map(compare_ratios, controls, treatments))
    assert 0.035 <= rate <= 0.065


def test_peeking_ten_times_with_always_valid_p_values():
    # 10 looks at 100, 200, …, 1,000 units a variant, N* = the planned 2,000.
    rng = np.random.default_rng(105)
    x = rng.normal(50.0, 20.0, (2, SIMULATIONS, 1000))
    looks = range(100, 1001, 100)
    ever_valid = np.zeros(SIMULATIONS, dtype=bool)
    ever_naive = np.zeros(SIMULATIONS, dtype=bool)
    for n in looks:
        controls, treatments = reduce(x[0, :, :n]), reduce(x[1, :, :n])
        for i, (c, t) in enumerate(zip(controls, treatments, strict=True)):
            fixed = compare_means(c, t)
            valid = sequential(fixed, n=2 * n, tuning=2000, alpha=0.05)
            ever_naive[i] |= fixed.absolute.p_value < 0.05
            ever_valid[i] |= valid.absolute.p_value < 0.05
    assert ever_valid.mean() <= 0.05
    # The problem being solved: fixed-horizon p-values peeked at 10 times
    # raise false alarms well above 5 % (about 19 % in theory).
    assert ever_naive.mean() > 0.10


def coverage(comparisons, true_absolute, true_relative):
    absolute = np.mean(
        [c.absolute.ci_low <= true_absolute <= c.absolute.ci_high for c in comparisons]
    )
    relative = np.mean(
        [c.relative.ci_low <= true_relative <= c.relative.ci_high for c in comparisons]
    )
    return absolute, relative


@pytest.mark.parametrize("cuped", [False, True])
def test_coverage_of_absolute_and_relative_lift(cuped):
    # True lift +0.5 on a control mean of 10: absolute 0.5, relative 0.05.
    rng = np.random.default_rng(106 + cuped)
    xc, yc = correlated(rng, (SIMULATIONS, 500))
    xt, yt = correlated(rng, (SIMULATIONS, 500), effect=0.5)
    comparisons = [
        compare_means(c, t, cuped=cuped)
        for c, t in zip(reduce(xc, yc), reduce(xt, yt), strict=True)
    ]
    assert all(c.cuped_applied == cuped for c in comparisons)
    absolute, relative = coverage(comparisons, 0.5, 0.05)
    assert 0.93 <= absolute <= 0.97
    assert 0.93 <= relative <= 0.97


def test_coverage_of_ratio_lift():
    # Acceptance rate 0.30 vs 0.33: absolute 0.03, relative 0.10.
    rng = np.random.default_rng(108)
    shown = 1.0 + rng.poisson(4.0, (2, SIMULATIONS, 500))
    accepted_c = rng.binomial(shown[0].astype(int), 0.30).astype(float)
    accepted_t = rng.binomial(shown[1].astype(int), 0.33).astype(float)
    comparisons = list(
        map(compare_ratios, reduce(accepted_c, shown[0]), reduce(accepted_t, shown[1]))
    )
    absolute, relative = coverage(comparisons, 0.03, 0.10)
    assert 0.93 <= absolute <= 0.97
    assert 0.93 <= relative <= 0.97


def test_power_for_means_matches_statsmodels():
    # d = 0.2 (means 50 and 54, sd 20), 300 units a variant, two-sided α = 0.05.
    promised = TTestIndPower().power(effect_size=0.2, nobs1=300, alpha=0.05, ratio=1.0)
    rng = np.random.default_rng(109)
    control = rng.normal(50.0, 20.0, (SIMULATIONS, 300))
    treatment = rng.normal(54.0, 20.0, (SIMULATIONS, 300))
    power = rejection_rate(map(compare_means, reduce(control), reduce(treatment)))
    assert power == pytest.approx(promised, abs=0.03)


def test_power_for_proportions_matches_statsmodels():
    # 20 % vs 25 %, 1,000 units a variant: Cohen's h with NormalIndPower, as
    # experiments.services.plan_sample_size plans it.
    effect = proportion_effectsize(0.25, 0.20)
    promised = NormalIndPower().power(effect_size=effect, nobs1=1000, alpha=0.05)
    rng = np.random.default_rng(110)
    control = rng.binomial(1000, 0.20, SIMULATIONS).astype(float)
    treatment = rng.binomial(1000, 0.25, SIMULATIONS).astype(float)
    comparisons = [
        compare_means(SampleStats(1000, c, c), SampleStats(1000, t, t))
        for c, t in zip(control, treatment, strict=True)
    ]
    assert rejection_rate(comparisons) == pytest.approx(promised, abs=0.03)
