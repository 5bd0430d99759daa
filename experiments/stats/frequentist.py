"""Fixed-horizon comparisons of one treatment with control: Welch's t-test for
means and proportions (optionally CUPED-adjusted) and the delta method for ratios.
"""

import math

from scipy.special import ndtr, ndtri, stdtr, stdtrit

from experiments.stats import messages
from experiments.stats.cuped import cuped_adjustment
from experiments.stats.estimates import Comparison, Estimate
from experiments.stats.samples import SampleStats


def check_alpha(alpha: float) -> None:
    """Raise ValueError unless 0 < alpha < 1."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha!r}")


def critical_value(alpha: float, df: float | None) -> float:
    """The two-sided critical value: Student's t quantile t₁₋α/₂,df, or the normal
    quantile z₁₋α/₂ when ``df`` is None (scipy.special.stdtrit / ndtri)."""
    if df is None:
        return float(ndtri(1 - alpha / 2))
    return float(stdtrit(df, 1 - alpha / 2))


def two_sided_p_value(statistic: float, df: float | None) -> float:
    """2·P(T > |t|) for Student's t with ``df`` degrees of freedom, or 2·Φ(−|z|)
    when ``df`` is None (scipy.special.stdtr / ndtr)."""
    if df is None:
        return float(2 * ndtr(-abs(statistic)))
    return float(2 * stdtr(df, -abs(statistic)))


def estimate(
    value: float, variance: float, *, alpha: float, df: float | None
) -> Estimate:
    """Estimate for ``value`` with sampling variance ``variance``: se = √variance,
    CI = value ± c·se with c = :func:`critical_value`, p = :func:`two_sided_p_value`
    of value/se. Undefined parts (variance NaN, or 0 so no test) are NaN."""
    se = math.sqrt(variance) if variance >= 0 else math.nan
    if not (math.isfinite(value) and math.isfinite(se)) or se == 0:
        return Estimate(value, math.nan, math.nan, math.nan, se)
    half = critical_value(alpha, df) * se
    p_value = two_sided_p_value(value / se, df)
    return Estimate(value, value - half, value + half, p_value, se)


def lifts(
    control_mean: float,
    control_var: float,
    treatment_mean: float,
    treatment_var: float,
    *,
    alpha: float,
    df: float | None,
    warnings: list[str],
) -> tuple[Estimate, Estimate | None]:
    """Absolute and relative lift from two independent estimates m_c, m_t with
    sampling variances V_c, V_t (variances of the estimates, not of units).

    Absolute: m_t − m_c, variance V_t + V_c.
    Relative: (m_t − m_c)/|m_c|, delta-method variance V_t/m_c² + m_t²·V_c/m_c⁴
    (first-order Taylor expansion of m_t/m_c; Deng, Knoblich & Lu 2018, "Applying
    the Delta Method in Metric Analytics", KDD '18, section 3.3). Both use the
    same critical value and reference distribution (t at ``df``, or z), as
    GrowthBook's gbstats does for relative lift. |m_c| keeps "positive = treatment
    higher" when the control mean is negative (identical for m_c > 0). m_c = 0:
    relative is None with ZERO_CONTROL_MEAN. ``warnings`` is appended to.
    """
    absolute = estimate(
        treatment_mean - control_mean,
        control_var + treatment_var,
        alpha=alpha,
        df=df,
    )
    if control_mean == 0:
        warnings.append(messages.ZERO_CONTROL_MEAN)
        return absolute, None
    if control_mean < 0:
        warnings.append(messages.NEGATIVE_CONTROL_MEAN)
    relative = estimate(
        (treatment_mean - control_mean) / abs(control_mean),
        treatment_var / control_mean**2
        + treatment_mean**2 * control_var / control_mean**4,
        alpha=alpha,
        df=df,
    )
    return absolute, relative


def welch_df(
    control_var: float, control_n: int, treatment_var: float, treatment_n: int
) -> float | None:
    """Welch–Satterthwaite degrees of freedom from the variances of the two means
    V = s²/n: (V_c + V_t)² / (V_c²/(n_c − 1) + V_t²/(n_t − 1)) (Welch 1947; as
    scipy.stats.ttest_ind(equal_var=False)). None when undefined (no variance)."""
    denominator = control_var**2 / (control_n - 1) + treatment_var**2 / (
        treatment_n - 1
    )
    if not denominator > 0:
        return None
    return (control_var + treatment_var) ** 2 / denominator


def _sample_warnings(control: SampleStats, treatment: SampleStats) -> list[str]:
    """[LOW_SAMPLE] when a variant has fewer than ``LOW_SAMPLE_UNITS`` units."""
    if min(control.n, treatment.n) < messages.LOW_SAMPLE_UNITS:
        return [messages.LOW_SAMPLE]
    return []


def compare_means(
    control: SampleStats,
    treatment: SampleStats,
    *,
    alpha: float = 0.05,
    cuped: bool = False,
) -> Comparison:
    """Welch's unequal-variance t-test of treatment against control on x's mean
    (proportions too: x is 0/1, so Σx² = Σx).

    Δ = x̄_t − x̄_c, se = √(s²_c/n_c + s²_t/n_t) (unpooled, ddof 1), df by
    Welch–Satterthwaite, CI = Δ ± t₁₋α/₂,df·se, p = 2·P(T_df > |Δ/se|): the same
    numbers as scipy.stats.ttest_ind(x_t, x_c, equal_var=False) and its
    ``confidence_interval(1 − alpha)`` on the unit-level data. Relative lift and
    its delta-method interval: see :func:`lifts` (same df).

    ``cuped=True`` replaces means and unit variances by CUPED's (see
    :func:`~experiments.stats.cuped.cuped_adjustment`); the test is then Welch's
    on the adjusted values x − θ(y − ȳ). Falls back to the plain test with
    NO_COVARIATE_INFORMATION when the covariate does not help. Warnings:
    LOW_SAMPLE (a variant under ``LOW_SAMPLE_UNITS`` units), NO_VARIANCE,
    ZERO_CONTROL_MEAN, NEGATIVE_CONTROL_MEAN. Fewer than 2 units in a variant
    leaves the intervals and p-values NaN.
    """
    check_alpha(alpha)
    warnings = _sample_warnings(control, treatment)
    adjustment = None
    if cuped and min(control.n, treatment.n) >= 2:
        adjustment = cuped_adjustment(control, treatment)
        if adjustment is None:
            warnings.append(messages.NO_COVARIATE_INFORMATION)
    if adjustment is None:
        control_mean, control_unit_var = control.mean, control.variance
        treatment_mean, treatment_unit_var = treatment.mean, treatment.variance
    else:
        control_mean = adjustment.control_mean
        control_unit_var = adjustment.control_variance
        treatment_mean = adjustment.treatment_mean
        treatment_unit_var = adjustment.treatment_variance
    # Unit variances are NaN below 2 units, and so is everything built on them.
    control_var = control_unit_var / control.n if control.n else math.nan
    treatment_var = treatment_unit_var / treatment.n if treatment.n else math.nan
    df = None
    if min(control.n, treatment.n) >= 2:
        df = welch_df(control_var, control.n, treatment_var, treatment.n)
    if control_var + treatment_var == 0:
        warnings.append(messages.NO_VARIANCE)
    absolute, relative = lifts(
        control_mean,
        control_var,
        treatment_mean,
        treatment_var,
        alpha=alpha,
        df=df,
        warnings=warnings,
    )
    return Comparison(
        control_mean=control_mean,
        treatment_mean=treatment_mean,
        absolute=absolute,
        relative=relative,
        df=df,
        cuped_applied=adjustment is not None,
        theta=adjustment.theta if adjustment else None,
        variance_reduction=adjustment.variance_reduction if adjustment else None,
        warnings=tuple(warnings),
        control_n=control.n,
        treatment_n=treatment.n,
        alpha=alpha,
    )


def ratio_and_variance(stats: SampleStats) -> tuple[float, float]:
    """R̂ = Σx/Σy and its delta-method variance (Deng, Knoblich & Lu 2018, eq. 3):

        Var(R̂) ≈ (1/n)·(σx²/μy² − 2μx·σxy/μy³ + μx²·σy²/μy⁴)
               = (σx² − 2R̂·σxy + R̂²·σy²) / (n·μy²)       (R̂ = μx/μy),

    the second form computed, with sample moments (ddof 1). NaN when Σy = 0
    (variance also when n < 2).
    """
    if stats.n == 0 or stats.y_sum == 0:
        return math.nan, math.nan
    ratio = stats.sum / stats.y_sum
    spread = stats.variance - 2 * ratio * stats.covariance + ratio**2 * stats.y_variance
    return ratio, max(spread, 0.0) / (stats.n * stats.y_mean**2)


def compare_ratios(
    control: SampleStats, treatment: SampleStats, *, alpha: float = 0.05
) -> Comparison:
    """Ratio metric Σx/Σy per variant (x numerator, y denominator per unit),
    compared by the delta method with normal (z) intervals (Deng, Knoblich & Lu
    2018, "Applying the Delta Method in Metric Analytics", KDD '18).

    Var(R̂) per variant: :func:`ratio_and_variance`. Absolute lift R̂_t − R̂_c with
    variance Var(R̂_t) + Var(R̂_c); relative lift R̂_t/R̂_c − 1 by the delta method
    on the ratio of ratios, Var(R̂_t)/R̂_c² + R̂_t²·Var(R̂_c)/R̂_c⁴ (see
    :func:`lifts`). ``df`` is None; ``control_mean``/``treatment_mean`` are the
    ratios. Warnings: LOW_SAMPLE, ZERO_DENOMINATOR (Σy = 0: that ratio is NaN),
    NO_VARIANCE, ZERO_CONTROL_MEAN (control ratio 0), NEGATIVE_CONTROL_MEAN.
    """
    check_alpha(alpha)
    warnings = _sample_warnings(control, treatment)
    if any(s.n > 0 and s.y_sum == 0 for s in (control, treatment)):
        warnings.append(messages.ZERO_DENOMINATOR)
    control_ratio, control_var = ratio_and_variance(control)
    treatment_ratio, treatment_var = ratio_and_variance(treatment)
    if control_var + treatment_var == 0:
        warnings.append(messages.NO_VARIANCE)
    absolute, relative = lifts(
        control_ratio,
        control_var,
        treatment_ratio,
        treatment_var,
        alpha=alpha,
        df=None,
        warnings=warnings,
    )
    return Comparison(
        control_mean=control_ratio,
        treatment_mean=treatment_ratio,
        absolute=absolute,
        relative=relative,
        df=None,
        cuped_applied=False,
        theta=None,
        variance_reduction=None,
        warnings=tuple(warnings),
        control_n=control.n,
        treatment_n=treatment.n,
        alpha=alpha,
    )
