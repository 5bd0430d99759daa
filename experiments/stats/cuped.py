"""CUPED: variance reduction with a pre-experiment covariate.

Deng, Xu, Kohavi & Walker (2013), "Improving the Sensitivity of Online Controlled
Experiments by Utilizing Pre-Experiment Data", WSDM '13, section 3.
"""

import math
from dataclasses import dataclass

from experiments.stats.samples import SampleStats, combine


@dataclass(frozen=True)
class CupedAdjustment:
    """θ, each variant's adjusted mean and adjusted unit variance, and the share
    of the lift's variance the adjustment removed (0..1)."""

    theta: float
    control_mean: float
    control_variance: float
    treatment_mean: float
    treatment_variance: float
    variance_reduction: float


def cuped_adjustment(
    control: SampleStats, treatment: SampleStats
) -> CupedAdjustment | None:
    """The CUPED adjustment of x by the covariate y, or None when y carries no
    information (no variance, no covariance, or no reduction of Var(lift)).

    θ = cov(x, y) / var(y), both from the two variants' combined sums (one θ for
    the pair, as GrowthBook's gbstats does, so the lift stays unbiased).
    Adjusted mean: x̄ᵥ − θ(ȳᵥ − ȳ), with ȳ the combined covariate mean (Deng et al.
    2013, eq. 3). Adjusted unit variance: var(x) − 2θ·cov(x, y) + θ²·var(y), the
    variance of x − θy within the variant. ``variance_reduction`` = 1 − Var̃(Δ) /
    Var(Δ) with Var(Δ) = s²_c/n_c + s²_t/n_t, adjusted and not; with a common
    correlation ρ it is ≈ ρ² (Deng et al. 2013, eq. 4). Needs n ≥ 2 per variant.
    """
    pooled = combine(control, treatment)
    y_variance = pooled.y_variance
    if not y_variance > 0:
        return None
    theta = pooled.covariance / y_variance
    if theta == 0 or not math.isfinite(theta):
        return None
    y_mean = pooled.y_mean

    def adjusted(s: SampleStats) -> tuple[float, float]:
        """x̄ − θ(ȳ − ȳ_pooled) and var(x) − 2θ·cov(x, y) + θ²·var(y)."""
        mean = s.mean - theta * (s.y_mean - y_mean)
        variance = s.variance - 2 * theta * s.covariance + theta**2 * s.y_variance
        return mean, max(variance, 0.0)

    control_mean, control_variance = adjusted(control)
    treatment_mean, treatment_variance = adjusted(treatment)
    before = control.variance / control.n + treatment.variance / treatment.n
    after = control_variance / control.n + treatment_variance / treatment.n
    if not before > 0 or not after < before:
        return None
    return CupedAdjustment(
        theta=theta,
        control_mean=control_mean,
        control_variance=control_variance,
        treatment_mean=treatment_mean,
        treatment_variance=treatment_variance,
        variance_reduction=1 - after / before,
    )
