"""Sample ratio mismatch: do the variants' unit counts fit the planned split?"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from scipy.stats import chisquare

from experiments.stats import messages
from experiments.stats.estimates import json_float


@dataclass(frozen=True)
class SrmResult:
    """The χ² goodness-of-fit test of unit counts against the planned weights.

    ``p_value`` and ``chi2`` are None without units or with a single variant;
    ``flag`` is True when p < threshold; ``expected`` = weight share × total.
    """

    p_value: float | None
    chi2: float | None
    flag: bool
    counts: dict[str, int] = field(default_factory=dict)
    expected: dict[str, float] = field(default_factory=dict)
    threshold: float = 0.001

    @property
    def warnings(self) -> tuple[str, ...]:
        """``(SRM,)`` when flagged, else empty."""
        return (messages.SRM,) if self.flag else ()

    def to_dict(self) -> dict:
        """The result as JSON, with the counts and expected counts per variant."""
        return {
            "p_value": json_float(self.p_value),
            "chi2": json_float(self.chi2),
            "flag": self.flag,
            "counts": dict(self.counts),
            "expected": {k: json_float(v) for k, v in self.expected.items()},
            "threshold": self.threshold,
        }


def srm(
    counts: Mapping[str, int],
    weights: Mapping[str, float],
    *,
    threshold: float = 0.001,
) -> SrmResult:
    """Pearson's χ² goodness-of-fit test of the counts against the weights
    (scipy.stats.chisquare, df = variants − 1):

        χ² = Σᵥ (countᵥ − Eᵥ)² / Eᵥ,   Eᵥ = total · weightᵥ / Σ weights.

    Variants are the keys of ``weights`` (a missing count is 0); weights need
    not sum to 1 but must be positive. Flags when p < ``threshold`` (0.001 is
    GrowthBook's default; on SRM see Kohavi, Tang & Xu 2020, "Trustworthy Online
    Controlled Experiments", chapter 21). No units or a single variant:
    p_value None, flag False. Raises ValueError for counts of unknown variants
    or non-positive weights.
    """
    unknown = set(counts) - set(weights)
    if unknown:
        raise ValueError(f"counts for variants without a weight: {sorted(unknown)}")
    if any(not w > 0 for w in weights.values()):
        raise ValueError("every weight must be positive")
    observed = {key: int(counts.get(key, 0)) for key in weights}
    total = sum(observed.values())
    weight_sum = math.fsum(weights.values())
    expected = {key: total * weights[key] / weight_sum for key in weights}
    if total == 0 or len(weights) < 2:
        return SrmResult(None, None, False, observed, expected, threshold)
    chi2, p_value = chisquare(list(observed.values()), list(expected.values()))
    p_value = float(p_value)
    return SrmResult(
        p_value, float(chi2), p_value < threshold, observed, expected, threshold
    )
