"""Always-valid ("safe to peek") intervals and p-values: asymptotic confidence
sequences with a normal-mixture boundary.

Waudby-Smith, Arnold, Wu, Howard & Ramdas (2023), "Time-uniform central limit
theory and asymptotic confidence sequences", Annals of Statistics
(arXiv:2103.06476v7: the two-sided boundary is eq. 9, the choice of ρ eq. 161).
Applied to a difference of two means as GrowthBook's gbstats
(``SequentialTwoSidedTTest``) does.
"""

import dataclasses
import math

from experiments.stats.estimates import Comparison, Estimate
from experiments.stats.frequentist import check_alpha


def mixture_rho(tuning: float, alpha: float) -> float:
    """The mixture parameter ρ that makes the boundary tightest at N* = ``tuning``
    units (Waudby-Smith et al. 2023, eq. 161):

        ρ = √((−2·ln α + ln(1 − 2·ln α)) / N*).
    """
    log_alpha = math.log(alpha)
    return math.sqrt((-2 * log_alpha + math.log(1 - 2 * log_alpha)) / tuning)


def sequence_halfwidth(
    std_error: float, n: int, *, tuning: float, alpha: float
) -> float:
    """Half-width of the two-sided (1 − α) asymptotic confidence sequence
    (Waudby-Smith et al. 2023, eq. 9) for an estimate with standard error
    ``std_error`` after ``n`` units:

        halfwidth = σ̂·√( 2(nρ² + 1)/(n²ρ²) · ln(√(nρ² + 1)/α) ),

    where σ̂² = n·se² is the per-unit variance the estimate's se implies (for a
    difference of means n = n_c + n_t, as gbstats does) and ρ =
    :func:`mixture_rho` (tuning, alpha). Wider than the fixed-horizon z·se at
    every n, closest to it near n = N*.
    """
    rho2 = mixture_rho(tuning, alpha) ** 2
    unit_variance = std_error**2 * n
    scale = 2 * (n * rho2 + 1) / (n**2 * rho2)
    return math.sqrt(unit_variance * scale * math.log(math.sqrt(n * rho2 + 1) / alpha))


def always_valid_p_value(z: float, n: int, *, tuning: float, alpha: float) -> float:
    """The smallest α' whose confidence sequence (same ρ, fixed by ``tuning`` and
    the nominal ``alpha``) excludes 0, for z = estimate/se after ``n`` units:

        p = min(1, √(nρ² + 1) · exp(−z²·nρ² / (2(nρ² + 1)))),

    i.e. 1 / the normal-mixture e-value (Waudby-Smith et al. 2023, eq. 155;
    gbstats' ``SequentialTwoSidedTTest.p_value``). p < alpha exactly when the
    (1 − alpha) sequence excludes 0.
    """
    rho2 = mixture_rho(tuning, alpha) ** 2
    exponent = -(z**2) * n * rho2 / (2 * (n * rho2 + 1))
    return min(1.0, math.sqrt(n * rho2 + 1) * math.exp(exponent))


def _always_valid(
    estimate: Estimate, n: int, *, tuning: float, alpha: float
) -> Estimate:
    """``estimate`` with its interval and p-value made always-valid."""
    se = estimate.std_error
    if not (math.isfinite(estimate.estimate) and math.isfinite(se)) or se <= 0:
        return estimate
    half = sequence_halfwidth(se, n, tuning=tuning, alpha=alpha)
    p_value = always_valid_p_value(
        estimate.estimate / se, n, tuning=tuning, alpha=alpha
    )
    return Estimate(
        estimate.estimate,
        estimate.estimate - half,
        estimate.estimate + half,
        p_value,
        se,
    )


def sequential(
    comparison: Comparison,
    *,
    n: int,
    tuning: float,
    alpha: float | None = None,
) -> Comparison:
    """A copy of ``comparison`` whose absolute and relative lifts carry always-valid
    (1 − α) intervals and p-values: valid however often the results are looked at.

    ``n``: units so far in the two variants compared (n_c + n_t). ``tuning``:
    N*, the number of units (same count) at which the sequence is tightest,
    usually the planned sample size. ``alpha``: None uses the comparison's.
    Point estimates and standard errors are kept; each interval becomes
    estimate ± :func:`sequence_halfwidth` and each p-value
    :func:`always_valid_p_value` (normal, so ``df`` becomes None). Undefined
    estimates (NaN or zero se) are left as they are.
    """
    alpha = comparison.alpha if alpha is None else alpha
    check_alpha(alpha)
    if n < 1 or not tuning > 0:
        raise ValueError(f"n and tuning must be positive, not {n!r} and {tuning!r}")
    relative = comparison.relative
    return dataclasses.replace(
        comparison,
        absolute=_always_valid(comparison.absolute, n, tuning=tuning, alpha=alpha),
        relative=(
            _always_valid(relative, n, tuning=tuning, alpha=alpha)
            if relative is not None
            else None
        ),
        df=None,
        alpha=alpha,
        always_valid=True,
    )
