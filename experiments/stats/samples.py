"""Sufficient statistics of one variant for one metric, as the database sums them."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: A centred sum of squares (or of cross products) smaller than this share of the
#: raw one is float round-off from ``Σx² − (Σx)²/n``: it is taken as exactly zero.
ROUND_OFF = 1e-10


def _centred(raw: float, a_sum: float, b_sum: float, n: int, scale: float) -> float:
    """``raw − a_sum·b_sum/n``, or 0 when it is below round-off of ``scale``."""
    centred = raw - a_sum * b_sum / n
    if abs(centred) <= ROUND_OFF * scale:
        return 0.0
    return centred


@dataclass(frozen=True)
class SampleStats:
    """Sufficient statistics of one variant for one metric.

    ``x`` is the unit's metric value (0/1 for a proportion) or a ratio's
    numerator; ``y`` is the CUPED covariate (the same metric before exposure) or
    a ratio's denominator. Undefined moments (``n`` too small) are NaN.
    """

    n: int  #: units
    sum: float  #: Σx
    sum_sq: float  #: Σx²
    y_sum: float = 0.0  #: Σy
    y_sum_sq: float = 0.0  #: Σy²
    xy_sum: float = 0.0  #: Σxy

    @classmethod
    def from_values(
        cls, x: Sequence[float] | Any, y: Sequence[float] | Any | None = None
    ) -> "SampleStats":
        """Reduce unit-level values (arrays or sequences) to sufficient statistics,
        as the SQL does; ``y`` omitted means no covariate (its sums are 0)."""
        x = np.asarray(x, dtype=float)
        if y is None:
            y = np.zeros_like(x)
        y = np.asarray(y, dtype=float)
        return cls(
            n=int(x.size),
            sum=float(x.sum()),
            sum_sq=float(x @ x),
            y_sum=float(y.sum()),
            y_sum_sq=float(y @ y),
            xy_sum=float(x @ y),
        )

    @property
    def mean(self) -> float:
        """x̄ = Σx / n (NaN without units)."""
        return self.sum / self.n if self.n > 0 else math.nan

    @property
    def y_mean(self) -> float:
        """ȳ = Σy / n (NaN without units)."""
        return self.y_sum / self.n if self.n > 0 else math.nan

    @property
    def variance(self) -> float:
        """Sample variance of x, s² = (Σx² − (Σx)²/n) / (n − 1) (NaN if n < 2)."""
        if self.n < 2:
            return math.nan
        ss = _centred(self.sum_sq, self.sum, self.sum, self.n, self.sum_sq)
        return max(ss, 0.0) / (self.n - 1)

    @property
    def y_variance(self) -> float:
        """Sample variance of y, (Σy² − (Σy)²/n) / (n − 1) (NaN if n < 2)."""
        if self.n < 2:
            return math.nan
        ss = _centred(self.y_sum_sq, self.y_sum, self.y_sum, self.n, self.y_sum_sq)
        return max(ss, 0.0) / (self.n - 1)

    @property
    def covariance(self) -> float:
        """Sample covariance of x and y, (Σxy − Σx·Σy/n) / (n − 1) (NaN if n < 2)."""
        if self.n < 2:
            return math.nan
        scale = math.sqrt(self.sum_sq * self.y_sum_sq)
        return _centred(self.xy_sum, self.sum, self.y_sum, self.n, scale) / (self.n - 1)


def combine(*samples: SampleStats) -> SampleStats:
    """The sufficient statistics of the union of the samples (every sum added)."""
    return SampleStats(
        n=sum(s.n for s in samples),
        sum=math.fsum(s.sum for s in samples),
        sum_sq=math.fsum(s.sum_sq for s in samples),
        y_sum=math.fsum(s.y_sum for s in samples),
        y_sum_sq=math.fsum(s.y_sum_sq for s in samples),
        xy_sum=math.fsum(s.xy_sum for s in samples),
    )


def summarise(stats: SampleStats) -> dict[str, float | int | None]:
    """``{"n", "mean", "std"}`` of x for the API: units, x̄ and the sample standard
    deviation √s² (ddof 1), in the metric's units; None where undefined."""
    mean, variance = stats.mean, stats.variance
    return {
        "n": stats.n,
        "mean": mean if math.isfinite(mean) else None,
        "std": math.sqrt(variance) if math.isfinite(variance) else None,
    }
