"""Variance decomposition and empirical-Bayes shrinkage
(experiments.stats.multilevel), pinned to statsmodels (MixedLM, combine_effects),
a hand computation and simulations with known truth (fixed seeds)."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from statsmodels.regression.mixed_linear_model import MixedLM, MixedLMParams
from statsmodels.stats.meta_analysis import combine_effects

from experiments.stats import SampleStats
from experiments.stats import multilevel as ml
from experiments.stats.multilevel import (
    CellStats,
    cells_from_units,
    dersimonian_laird,
    shrink_effects,
    variance_decomposition,
)


def simulate(seed, *, reps, customers, units, rep_sd, customer_sd, noise_sd, lifts):
    """Units with customers nested in reps and a variant drawn per unit."""
    rng = np.random.default_rng(seed)
    rep_of_customer = rng.integers(0, reps, customers)
    customer = rng.integers(0, customers, units)
    rep = rep_of_customer[customer]
    names = ["control", *lifts]
    arm = rng.integers(0, len(names), units)
    effect = np.array([0.0, *lifts.values()])[arm]
    y = (
        effect
        + rng.normal(0, rep_sd, reps)[rep]
        + rng.normal(0, customer_sd, customers)[customer]
        + rng.normal(0, noise_sd, units)
    )
    return pd.DataFrame(
        {
            "y": y,
            "variant": np.array(names)[arm],
            "rep": [f"r{r}" for r in rep],
            "customer": [f"c{c}" for c in customer],
        }
    )


def decompose(frame, **kwargs):
    cells = cells_from_units(frame.y, frame.variant, frame.rep, frame.customer)
    return variance_decomposition(cells, "control", **kwargs)


@pytest.fixture(scope="module")
def small():
    return simulate(
        3,
        reps=8,
        customers=80,
        units=1200,
        rep_sd=1.0,
        customer_sd=0.7,
        noise_sd=1.5,
        lifts={"a": 0.3, "b": 0.1},
    )


def test_matches_statsmodels_mixedlm(small):
    got = decompose(small)
    model = MixedLM.from_formula(
        "y ~ C(variant, Treatment('control'))",
        groups="rep",
        re_formula="1",
        vc_formula={"customer": "0 + C(customer)"},
        data=small,
    )
    fit = model.fit(reml=True)
    # statsmodels' own REML log-likelihood, evaluated at our variance ratios
    # (fixed effects profiled out), equals ours: the same likelihood, to 1e-8.
    params = MixedLMParams.from_components(
        cov_re=np.array([[got.components["rep"] / got.components["interaction"]]]),
        vcomp=np.array([got.components["customer"] / got.components["interaction"]]),
    )
    assert model.loglike(params, profile_fe=True) == pytest.approx(
        got.log_likelihood, abs=1e-8
    )
    # And our optimum is at least as high as statsmodels' fit.
    assert got.log_likelihood >= fit.llf - 1e-8
    # The estimates agree to statsmodels' convergence tolerance.
    assert got.components["rep"] == pytest.approx(fit.cov_re.iloc[0, 0], rel=1e-3)
    assert got.components["customer"] == pytest.approx(fit.vcomp[0], rel=1e-3)
    assert got.components["interaction"] == pytest.approx(fit.scale, rel=1e-5)
    for name, column in (("a", 1), ("b", 2)):
        effect = got.treatment_effects[name]
        assert effect.estimate == pytest.approx(fit.fe_params.iloc[column], abs=1e-5)
        # Standard errors: ours σ̂²(XᵀĤ⁻¹X)⁻¹ (as lme4 and nlme), statsmodels'
        # from the inverse observed Hessian of all parameters; 3e-4 apart here.
        assert effect.std_error == pytest.approx(fit.bse_fe.iloc[column], rel=1e-3)
        ci = fit.conf_int().iloc[column]
        assert effect.ci_low == pytest.approx(ci[0], abs=2e-4)
        assert effect.ci_high == pytest.approx(ci[1], abs=2e-4)
    assert got.nested and got.converged and got.warnings == ()
    assert (got.units, got.reps, got.customers) == (1200, 8, 80)
    assert math.fsum(got.levels.values()) == pytest.approx(1, abs=1e-12)
    json.dumps(got.to_dict(), allow_nan=False)


def test_recovers_known_variance_components():
    # σ²_rep = 1, σ²_customer = 0.5, σ² = 2, lift 0.3 over 200 reps, 2,000
    # customers, 20,000 units. Tolerances ≈ 3 standard errors of each estimate
    # (rep: √(2/199) ≈ 0.10; customer ≈ 0.03; residual ≈ 0.02; lift ≈ 0.02).
    frame = simulate(
        20261127,
        reps=200,
        customers=2000,
        units=20_000,
        rep_sd=1.0,
        customer_sd=math.sqrt(0.5),
        noise_sd=math.sqrt(2.0),
        lifts={"treatment": 0.3},
    )
    got = decompose(frame)
    assert got.components["rep"] == pytest.approx(1.0, abs=0.3)
    assert got.components["customer"] == pytest.approx(0.5, abs=0.1)
    assert got.components["interaction"] == pytest.approx(2.0, abs=0.07)
    effect = got.treatment_effects["treatment"]
    assert effect.estimate == pytest.approx(0.3, abs=0.07)
    assert effect.ci_low < 0.3 < effect.ci_high
    assert got.levels["rep"] == pytest.approx(1 / 3.5, abs=0.07)


def test_zero_one_outcome_is_a_linear_probability_model(small):
    binary = small.assign(y=(small.y > 0.5).astype(float))
    got = decompose(binary)
    assert got.linear_probability
    assert ml.LINEAR_PROBABILITY_MODEL in got.warnings
    assert not decompose(small).linear_probability
    assert decompose(small, linear_probability=True).linear_probability


def test_customers_seen_by_several_reps_are_split_and_flagged():
    cells = [
        CellStats("r1", "c1", "control", 5, 5.0, 7.0),
        CellStats("r1", "c1", "t", 5, 7.0, 12.0),
        CellStats("r2", "c1", "control", 4, 2.0, 3.0),
        CellStats("r2", "c2", "t", 6, 9.0, 16.0),
        CellStats("r3", "c3", "control", 5, 1.0, 2.0),
        CellStats("r3", "c3", "t", 5, 4.0, 6.0),
    ]
    got = variance_decomposition(cells, "control")
    assert not got.nested
    assert ml.CUSTOMERS_SPLIT_BY_REP in got.warnings


def test_one_unit_per_customer_leaves_the_customer_level_out(small):
    frame = small.assign(customer=[f"u{i}" for i in range(len(small))])
    got = decompose(frame)
    assert ml.CUSTOMER_LEVEL_NOT_IDENTIFIED in got.warnings
    assert got.components["customer"] == 0


def test_needs_control_units(small):
    with pytest.raises(ValueError, match="control"):
        variance_decomposition(
            cells_from_units(small.y, small.variant, small.rep, small.customer),
            "nobody",
        )


# --- DerSimonian–Laird and shrinkage ---------------------------------------------


def test_dersimonian_laird_by_hand():
    # θ = 0.1, 0.3, 0.5; v = 0.01, 0.02, 0.04 → w = 100, 50, 25, Σw = 175
    # θ̂_FE = (10 + 15 + 12.5)/175 = 3/14
    # Q = 100·(−1.6/14)² + 50·(1.2/14)² + 25·(4/14)² = (256 + 72 + 400)/196 = 26/7
    # Σw² = 13,125; Σw − Σw²/Σw = 175 − 75 = 100
    # τ² = (26/7 − 2)/100 = 3/175
    tau2, q = dersimonian_laird([0.1, 0.3, 0.5], [0.01, 0.02, 0.04])
    assert q == pytest.approx(26 / 7, abs=1e-12)
    assert tau2 == pytest.approx(3 / 175, abs=1e-12)
    # Homogeneous effects: Q < k − 1, so τ² = 0.
    assert dersimonian_laird([0.2, 0.21, 0.19], [0.01, 0.01, 0.01])[0] == 0


def rep_stats(seed, reps=40, base=0.2, sd=0.08):
    """Per-rep 0/1 outcomes with 8–200 leads each and true effects N(0.1, sd²)."""
    rng = np.random.default_rng(seed)
    truth, groups = {}, {}
    for r in range(reps):
        n = int(rng.integers(8, 201))
        effect = 0.1 + rng.normal(0, sd)
        control = rng.random(n // 2) < base
        treated = rng.random(n - n // 2) < base + effect
        truth[f"r{r:02d}"] = effect
        groups[f"r{r:02d}"] = (
            SampleStats.from_values(control.astype(float)),
            SampleStats.from_values(treated.astype(float)),
        )
    return truth, groups


@pytest.mark.parametrize("pooled", [True, False])
def test_tau2_and_overall_match_statsmodels_combine_effects(pooled):
    _, groups = rep_stats(5)
    got = shrink_effects(groups, pooled_variance=pooled)
    raw = [g.raw.estimate for g in got.groups]
    variances = [g.raw.std_error**2 for g in got.groups]
    reference = combine_effects(np.array(raw), np.array(variances), method_re="dl")
    assert got.tau2 == pytest.approx(reference.tau2, abs=1e-9)
    assert got.q == pytest.approx(reference.q, abs=1e-9)
    assert got.overall.estimate == pytest.approx(reference.mean_effect_re, abs=1e-9)
    assert got.overall.std_error == pytest.approx(reference.sd_eff_w_re, abs=1e-9)


def test_shrinkage_formula_on_a_group():
    _, groups = rep_stats(6)
    got = shrink_effects(groups)
    for group in got.groups:
        v = group.raw.std_error**2
        keep = got.tau2 / (got.tau2 + v)
        assert group.weight == pytest.approx(keep, abs=1e-12)
        assert group.shrunk.estimate == pytest.approx(
            got.overall.estimate + keep * (group.raw.estimate - got.overall.estimate),
            abs=1e-12,
        )
        # The interval is narrower than the raw one: the group borrows strength.
        assert group.shrunk.std_error < group.raw.std_error
        assert group.shrunk.ci_low < group.shrunk.estimate < group.shrunk.ci_high
    # Reps with few leads are pulled in harder than big ones.
    by_size = sorted(got.groups, key=lambda g: g.control_n + g.treatment_n)
    assert by_size[0].weight < by_size[-1].weight


def test_shrunk_effects_beat_raw_effects_in_mean_squared_error():
    raw_error = shrunk_error = 0.0
    covered = total = 0
    for seed in range(30):
        truth, groups = rep_stats(100 + seed)
        got = shrink_effects(groups)
        for group in got.groups:
            true = truth[group.group]
            raw_error += (group.raw.estimate - true) ** 2
            shrunk_error += (group.shrunk.estimate - true) ** 2
            covered += group.shrunk.ci_low <= true <= group.shrunk.ci_high
            total += 1
    assert shrunk_error < 0.6 * raw_error
    # The 95 % intervals cover roughly 95 % of the true effects.
    assert 0.88 < covered / total < 0.99


def test_small_groups_are_skipped_and_one_group_is_not_shrunk():
    one = SampleStats.from_values([1.0])
    pair = (
        SampleStats.from_values([0, 1, 0, 0]),
        SampleStats.from_values([1, 1, 0, 1]),
    )
    got = shrink_effects({"big": pair, "tiny": (one, one)})
    assert got.skipped == ("tiny",)
    assert ml.TOO_FEW_GROUPS in got.warnings
    assert math.isnan(got.tau2)
    (big,) = got.groups
    assert big.shrunk.estimate == big.raw.estimate == pytest.approx(0.5)
    json.dumps(got.to_dict(), allow_nan=False)
