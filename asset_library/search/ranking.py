"""The ranking blend and its weights (the formula is in the package docstring)."""

import math
from dataclasses import dataclass

import numpy as np

SECONDS_PER_DAY = 86_400.0

#: Verification statuses and the code each is stored as.
VERIFICATION_CODES = {"none": 0, "verified": 1, "lapsed": 2}


@dataclass(frozen=True)
class RankingWeights:
    """Weights of the non-text signals in the final score."""

    evidence: float = 0.3
    verified: float = 0.1
    lapsed: float = 0.03
    freshness: float = 0.05
    freshness_half_life_days: float = 180.0
    usage: float = 0.05
    #: Usage counts at or above this give the whole usage weight.
    usage_saturation: int = 1000
    rating: float = 0.03


@dataclass(frozen=True)
class Bm25Params:
    """BM25F parameters: saturation ``k1`` and, per field, weight and ``b``."""

    k1: float = 2.0
    title_weight: float = 3.0
    tags_weight: float = 2.0
    summary_weight: float = 1.5
    body_weight: float = 0.5
    facets_weight: float = 1.5
    title_b: float = 0.5
    tags_b: float = 0.3
    summary_b: float = 0.6
    body_b: float = 0.75
    facets_b: float = 0.0

    def weight(self, field: str) -> float:
        return getattr(self, f"{field}_weight")

    def b(self, field: str) -> float:
        return getattr(self, f"{field}_b")


def prior(
    weights: RankingWeights,
    evidence: np.ndarray,
    verification: np.ndarray,
    updated_at: np.ndarray,
    usage: np.ndarray,
    rating: np.ndarray,
    now: float,
) -> np.ndarray:
    """The non-text part of the score, ``P`` in the package docstring, per row.

    ``updated_at`` and ``now`` are Unix times in seconds (NaN: unknown);
    ``rating`` is the average rating 1..5 (NaN: unrated).
    """
    age_days = np.maximum(now - updated_at, 0.0) / SECONDS_PER_DAY
    freshness = np.nan_to_num(
        np.exp2(-age_days / weights.freshness_half_life_days), nan=0.0
    )
    usage_share = np.minimum(
        np.log1p(np.maximum(usage, 0.0)) / math.log1p(weights.usage_saturation), 1.0
    )
    rating_share = np.nan_to_num(np.clip((rating - 3.0) / 2.0, -1.0, 1.0), nan=0.0)
    return (
        weights.evidence * np.clip(evidence, 0.0, 1.0)
        + weights.verified * (verification == VERIFICATION_CODES["verified"])
        + weights.lapsed * (verification == VERIFICATION_CODES["lapsed"])
        + weights.freshness * freshness
        + weights.usage * usage_share
        + weights.rating * rating_share
    )
