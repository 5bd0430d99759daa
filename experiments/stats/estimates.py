"""The result types every test returns, and their JSON form.

Attributes hold floats, NaN where a quantity is undefined (so arithmetic and
comparisons never raise); ``to_dict()`` turns NaN and infinities into None.
"""

import math
from dataclasses import dataclass
from typing import Any


def json_float(value: float | None) -> float | None:
    """A finite float, or None for None, NaN and ±inf (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its two-sided confidence interval at the comparison's
    alpha, the two-sided p-value against 0 and the standard error, in the lift's
    units (metric units for absolute lift, a fraction for relative: 0.05 = +5 %)."""

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    std_error: float

    def to_dict(self) -> dict[str, float | None]:
        """The fields as JSON: NaN and infinities become None."""
        return {
            "estimate": json_float(self.estimate),
            "ci_low": json_float(self.ci_low),
            "ci_high": json_float(self.ci_high),
            "p_value": json_float(self.p_value),
            "std_error": json_float(self.std_error),
        }


UNDEFINED = Estimate(math.nan, math.nan, math.nan, math.nan, math.nan)


@dataclass(frozen=True)
class Comparison:
    """One treatment against control on one metric.

    Lifts are treatment − control (absolute) and (treatment − control)/|control|
    (relative), so a positive lift always means "treatment is higher". With
    CUPED the means are the adjusted means. ``always_valid`` is True once
    :func:`~experiments.stats.sequential.sequential` replaced the intervals and
    p-values by always-valid ones.
    """

    control_mean: float
    treatment_mean: float
    absolute: Estimate
    relative: Estimate | None
    df: float | None  #: Welch–Satterthwaite df; None for z-based results
    cuped_applied: bool
    theta: float | None  #: CUPED θ = cov(x, y)/var(y), pooled over both variants
    variance_reduction: float | None  #: share of Var(lift) CUPED removed, 0..1
    warnings: tuple[str, ...]
    control_n: int = 0
    treatment_n: int = 0
    alpha: float = 0.05
    always_valid: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The comparison as JSON (nested estimates; NaN and infinities → None)."""
        return {
            "control_mean": json_float(self.control_mean),
            "treatment_mean": json_float(self.treatment_mean),
            "absolute": self.absolute.to_dict(),
            "relative": self.relative.to_dict() if self.relative else None,
            "df": json_float(self.df),
            "cuped_applied": self.cuped_applied,
            "theta": json_float(self.theta),
            "variance_reduction": json_float(self.variance_reduction),
            "warnings": list(self.warnings),
            "control_n": self.control_n,
            "treatment_n": self.treatment_n,
            "alpha": self.alpha,
            "always_valid": self.always_valid,
        }
