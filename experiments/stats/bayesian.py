"""Bayesian read-out of a comparison: chance to beat control and risk.

A normal approximation on the relative lift, as GrowthBook's gbstats
(``EffectBayesianABTest``) does: the likelihood is N(lift̂, se²) with lift̂ and se
from the comparison's delta-method relative lift.
"""

import math
from dataclasses import dataclass

from scipy.special import ndtr

from experiments.stats.estimates import Comparison, json_float
from experiments.stats.frequentist import check_alpha, critical_value


@dataclass(frozen=True)
class BayesianResult:
    """Posterior of the relative lift (treatment − control)/|control|, as a fraction.

    ``chance_to_win``: P(treatment better), in the metric's desired direction.
    ``risk``: expected loss of choosing treatment, ``risk_control``: of keeping
    control, both in relative-lift units (≥ 0). ``ci_low``/``ci_high``: the
    equal-tailed (1 − α) credible interval. NaN where undefined.
    """

    chance_to_win: float
    risk: float
    risk_control: float
    posterior_mean: float
    posterior_sd: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, float | None]:
        """The fields as JSON: NaN becomes None."""
        return {
            "chance_to_win": json_float(self.chance_to_win),
            "risk": json_float(self.risk),
            "risk_control": json_float(self.risk_control),
            "posterior_mean": json_float(self.posterior_mean),
            "posterior_sd": json_float(self.posterior_sd),
            "ci_low": json_float(self.ci_low),
            "ci_high": json_float(self.ci_high),
        }


UNDEFINED = BayesianResult(*([math.nan] * 7))


def expected_shortfall(mean: float, sd: float) -> float:
    """E[max(−X, 0)] for X ~ N(μ, σ²): the expected loss of acting as if X > 0.

        E[max(−X, 0)] = ∫₋∞⁰ −x·φ((x − μ)/σ)/σ dx = σ·φ(μ/σ) − μ·Φ(−μ/σ)

    i.e. σ·G(μ/σ) with G(z) = φ(z) − z·Φ(−z) the unit normal linear loss integral
    (Raiffa & Schlaifer 1961, "Applied Statistical Decision Theory").
    By symmetry E[max(X, 0)] = expected_shortfall(−μ, σ).
    """
    z = mean / sd
    density = math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return sd * density - mean * float(ndtr(-z))


def bayesian(
    comparison: Comparison,
    *,
    higher_is_better: bool = True,
    prior_mean: float = 0.0,
    prior_sd: float | None = None,
    alpha: float | None = None,
) -> BayesianResult:
    """Posterior of the relative lift L with a normal likelihood N(L̂, s²), L̂ and
    s the estimate and std_error of ``comparison.relative``.

    Prior: flat (``prior_sd`` None) → posterior N(L̂, s²); or N(m₀, τ²) →
    conjugate normal posterior with precision 1/s² + 1/τ² and mean
    (L̂/s² + m₀/τ²)/(1/s² + 1/τ²) (Gelman et al., "Bayesian Data Analysis", 3rd
    ed., section 2.5, normal likelihood with known variance). With posterior
    N(μ, σ²):

    - chance_to_win = P(L > 0) = Φ(μ/σ), or P(L < 0) = Φ(−μ/σ) when lower is better;
    - risk (choose treatment) = E[max(−L, 0)] = σφ(μ/σ) − μΦ(−μ/σ), or E[max(L, 0)]
      when lower is better; risk_control (keep control) is the other one
      (:func:`expected_shortfall`);
    - credible interval μ ± z₁₋α/₂·σ, ``alpha`` None → the comparison's.

    Undefined (NaN everywhere) when there is no relative lift (zero control
    mean) or its standard error is not positive.
    """
    alpha = comparison.alpha if alpha is None else alpha
    check_alpha(alpha)
    if prior_sd is not None and not prior_sd > 0:
        raise ValueError(f"prior_sd must be positive, not {prior_sd!r}")
    relative = comparison.relative
    if relative is None:
        return UNDEFINED
    lift, se = relative.estimate, relative.std_error
    if not (math.isfinite(lift) and math.isfinite(se)) or se <= 0:
        return UNDEFINED
    if prior_sd is None:
        mean, sd = lift, se
    else:
        precision = 1 / se**2 + 1 / prior_sd**2
        mean = (lift / se**2 + prior_mean / prior_sd**2) / precision
        sd = math.sqrt(1 / precision)
    loss_if_up = expected_shortfall(mean, sd)  # choosing on the bet that L > 0
    loss_if_down = expected_shortfall(-mean, sd)  # on the bet that L < 0
    half = critical_value(alpha, None) * sd
    return BayesianResult(
        chance_to_win=float(ndtr(mean / sd if higher_is_better else -mean / sd)),
        risk=loss_if_up if higher_is_better else loss_if_down,
        risk_control=loss_if_down if higher_is_better else loss_if_up,
        posterior_mean=mean,
        posterior_sd=sd,
        ci_low=mean - half,
        ci_high=mean + half,
    )
