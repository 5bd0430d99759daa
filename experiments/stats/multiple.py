"""Multiple-testing correction of a family of p-values."""

import math
from collections.abc import Sequence

import numpy as np
from statsmodels.stats.multitest import multipletests

METHODS = ("holm", "bh", "none")


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm (1979) step-down adjusted p-values: with p₍₁₎ ≤ … ≤ p₍ₘ₎,

        p̃₍ᵢ₎ = min(1, max_{j ≤ i} (m − j + 1)·p₍ⱼ₎).

    The same numbers as statsmodels' ``multipletests(method="holm")``, computed
    here because that branch runs ``gc.collect()`` on every call (20–50 ms).
    """
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * np.arange(p.size, 0, -1)
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return [float(v) for v in adjusted]


def adjust_p_values(
    p_values: Sequence[float | None], method: str = "holm"
) -> list[float | None]:
    """Adjusted p-values, in the input's order, for the family of defined ones.

    ``"holm"``: Holm (1979) step-down, controls the family-wise error rate
    (:func:`holm`); ``"bh"``: Benjamini & Hochberg (1995), controls the false
    discovery rate (statsmodels.stats.multitest.multipletests, ``fdr_bh``);
    ``"none"``: unchanged. None and NaN entries are left out of the family and
    come back as None. Raises ValueError for another method.
    """
    if method not in METHODS:
        raise ValueError(f"unknown correction {method!r}: use holm, bh or none")
    defined = [i for i, p in enumerate(p_values) if p is not None and math.isfinite(p)]
    adjusted: list[float | None] = [None] * len(p_values)
    if not defined:
        return adjusted
    family = [float(p_values[i]) for i in defined]
    if method == "holm":
        family = holm(family)
    elif method == "bh":
        family = [float(p) for p in multipletests(family, method="fdr_bh")[1]]
    for i, p in zip(defined, family, strict=True):
        adjusted[i] = p
    return adjusted
