"""Item analysis of a response matrix: classical test theory as Moodle's quiz
statistics compute it. Pure: numpy, scipy and pandas only, no Flask, no database.

Input: a matrix of scores ``x_ij`` (rows are examinees or attempts, columns items,
``NaN`` where the examinee did not have the item), each item's maximum ``m_j``, and
optionally the option each examinee chose on choice items.

Definitions (Moodle, ``question/classes/statistics/questions/calculator.php``;
every statistic is a fraction, never a percentage):

- An examinee's **score** ``p_i = T_i / M_i``: points ``T_i`` over the maximum
  ``M_i`` of the items they had. With a complete matrix ``M_i`` is the test's
  maximum, so ``p_i`` is the usual total as a fraction.
- **Facility** ``mean(x_j) / m_j``; **SD** the sample SD (n − 1) of ``x_j`` over
  ``m_j``.
- **Discrimination index** Pearson's r of ``x_j`` with the rest of the test,
  ``(T_i − x_ij) / (M_i − m_j)``.
- **Discriminative efficiency** ``cov(x_j, rest) / cov_max``, where ``cov_max``
  pairs both lists sorted in the same order (the largest covariance those same
  values could have).
- **Point-biserial** Pearson's r of ``x_j`` with the score ``p``.
- **Effective weight** ``sqrt(cov(x_j, p)) / Σ_k sqrt(cov(x_k, p))`` over items
  whose covariance is not negative; an item with a negative covariance has none
  (flag ``negative_covariance``). **Intended weight** ``m_j / Σ m``.
- Test: n, mean and SD (sample) of ``p``; **skewness** ``G1`` and **kurtosis**
  ``G2`` (excess), the sample-adjusted estimators (as ``scipy.stats.skew`` and
  ``scipy.stats.kurtosis`` with ``bias=False``); **Cronbach's α**
  ``k/(k−1) · (1 − Σ var_j / var_T)``, computed as ``k·c̄ / (v̄ + (k − 1)·c̄)``
  from the mean item variance and mean inter-item covariance (the same number);
  **KR-20** = α when every score is 0 or its item's maximum, else None;
  **Feldt's interval** for α with F(n − 1, (n − 1)(k − 1)); **error ratio**
  ``sqrt(1 − α)``; **SEM** ``SD · sqrt(1 − α)`` (a fraction of the maximum, like
  SD).

Missing cells (forms drawn at random from pools, a partial import): every item
statistic uses the examinees who had the item, as Moodle does for random
questions; scores and rest scores are fractions of what each examinee could score,
so forms of different lengths compare; α is that of a form of the mean length k,
from the variances of items with two or more respondents and the covariances of
the pairs of items answered together by two or more examinees (each over those
examinees), so forms drawn from a larger pool still have one. A complete matrix
gives the textbook values exactly.

Distractor analysis: examinees are split into score quartiles by ``p`` (ties broken
by row order, so groups are as equal as possible); per option the share of each
quartile's respondents who chose it. The key is given, or else taken to be the
options whose choosers scored on average at least half the item's maximum. A
distractor that draws a larger share of the top quartile than of the bottom one is
flagged.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

#: Below this discrimination index an item is flagged for review.
LOW_DISCRIMINATION = 0.2
#: At or above this facility an item is very easy; at or below the next, very hard.
VERY_EASY = 0.9
VERY_HARD = 0.1
#: Fewer respondents than this make an item's statistics unstable.
MIN_RESPONSES = 30
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Flag:
    """A reason to review an item: ``code`` (see ``FLAG_CODES``), the value that
    triggered it and, for distractors, the option."""

    code: str
    value: float | None = None
    option: str | None = None


FLAG_CODES = (
    "few_responses",
    "no_variance",
    "negative_discrimination",
    "low_discrimination",
    "very_easy",
    "very_hard",
    "negative_covariance",
    "distractor_attracts_top",
)


@dataclass(frozen=True)
class OptionStats:
    option: str
    key: bool
    count: int
    #: Share of the item's respondents who chose it.
    share: float
    #: Share of each score quartile's respondents, bottom quartile first.
    by_quartile: list[float | None]
    #: Mean score of those who chose it, as a fraction of the item's maximum.
    mean_score: float


@dataclass(frozen=True)
class ItemStats:
    item: str
    n: int
    max_score: float
    facility: float | None
    sd: float | None
    discrimination_index: float | None
    discriminative_efficiency: float | None
    point_biserial: float | None
    effective_weight: float | None
    intended_weight: float
    flags: list[Flag] = field(default_factory=list)
    #: Respondents per score quartile (bottom first), for choice items.
    quartile_n: list[int] | None = None
    options: list[OptionStats] | None = None


@dataclass(frozen=True)
class TestStats:
    n: int
    items: int
    mean: float | None
    sd: float | None
    skewness: float | None
    kurtosis: float | None
    alpha: float | None
    alpha_ci: list[float] | None
    kr20: float | None
    error_ratio: float | None
    sem: float | None


@dataclass(frozen=True)
class Analysis:
    test: TestStats
    items: list[ItemStats]

    def to_dict(self) -> dict[str, Any]:
        return {"test": asdict(self.test), "items": [asdict(i) for i in self.items]}


def _cov(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a - a.mean()) * (b - b.mean())).sum() / (len(a) - 1))


def _corr(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 2:
        return None
    va, vb = _cov(a, a), _cov(b, b)
    if va <= 0 or vb <= 0:
        return None
    return float(_cov(a, b) / np.sqrt(va * vb))


def skewness(values: np.ndarray) -> float | None:
    """The sample-adjusted skewness G1 (None below 3 values or without spread)."""
    n = len(values)
    d = values - values.mean()
    m2, m3 = (d**2).mean(), (d**3).mean()
    if n < 3 or m2 <= 0:
        return None
    return float(np.sqrt(n * (n - 1)) / (n - 2) * m3 / m2**1.5)


def kurtosis(values: np.ndarray) -> float | None:
    """The sample-adjusted excess kurtosis G2 (None below 4 values or without
    spread)."""
    n = len(values)
    d = values - values.mean()
    m2, m4 = (d**2).mean(), (d**4).mean()
    if n < 4 or m2 <= 0:
        return None
    g2 = m4 / m2**2 - 3
    return float((n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6))


def cronbach_alpha(scores: pd.DataFrame) -> tuple[float | None, float]:
    """Cronbach's α of a form and the form's length k: ``k·c̄ / (v̄ + (k − 1)·c̄)``
    with v̄ the mean item variance, c̄ the mean covariance of the pairs of items
    answered together by two or more examinees, k the mean number of items per
    examinee. With a complete matrix this is the textbook
    ``k/(k−1) · (1 − Σ var_j / var_T)``. None with forms under two items, no pair
    answered together, or no spread."""
    seen = scores.notna().to_numpy()
    length = float(seen.sum(axis=1).mean()) if len(scores) else 0.0
    cov = scores.cov(min_periods=2).to_numpy()
    variances = np.diag(cov)
    pairs = cov[~np.eye(len(cov), dtype=bool)]
    variances, pairs = variances[~np.isnan(variances)], pairs[~np.isnan(pairs)]
    if length < 2 or not len(pairs) or not len(variances):
        return None, length
    mean_cov = pairs.mean()
    denominator = variances.mean() + (length - 1) * mean_cov
    if denominator <= 0:
        return None, length
    return float(length * mean_cov / denominator), length


def feldt_interval(
    alpha: float, n: int, k: float, confidence: float = CONFIDENCE
) -> list[float] | None:
    """Feldt's confidence interval for α from n examinees and forms of k items,
    using F(n − 1, (n − 1)(k − 1))."""
    if n < 2 or k < 2:
        return None
    df1, df2 = n - 1, (n - 1) * (k - 1)
    tail = (1 - confidence) / 2
    lower = 1 - (1 - alpha) * stats.f.isf(tail, df1, df2)
    upper = 1 - (1 - alpha) * stats.f.ppf(tail, df1, df2)
    return [float(lower), float(upper)]


def _quartiles(score: np.ndarray) -> np.ndarray:
    """Quartile 0 (bottom) to 3 (top) of each row by score, ties by row order."""
    order = np.argsort(score, kind="stable")
    rank = np.empty(len(score), dtype=int)
    rank[order] = np.arange(len(score))
    return (4 * rank) // max(len(score), 1)


def _options(
    chosen: pd.Series,
    x: np.ndarray,
    quartile: np.ndarray,
    maximum: float,
    key: set[str] | None,
) -> tuple[list[int], list[OptionStats], list[Flag]]:
    values = chosen.to_numpy(dtype=object)
    answered = np.array([v is not None and v == v and v != "" for v in values])
    quartile_n = [int((quartile == q).sum()) for q in range(4)]
    names = sorted({str(v) for v in values[answered]})
    out, flags = [], []
    for name in names:
        picked = answered & (values == name)
        mean_score = float(x[picked].mean() / maximum)
        is_key = name in key if key is not None else mean_score >= 0.5
        by_quartile = [
            (float((picked & (quartile == q)).sum() / quartile_n[q]))
            if quartile_n[q]
            else None
            for q in range(4)
        ]
        out.append(
            OptionStats(
                option=name,
                key=is_key,
                count=int(picked.sum()),
                share=float(picked.sum() / len(values)),
                by_quartile=by_quartile,
                mean_score=mean_score,
            )
        )
        bottom, top = by_quartile[0], by_quartile[3]
        if not is_key and bottom is not None and top is not None and top > bottom:
            flags.append(Flag("distractor_attracts_top", top - bottom, name))
    return quartile_n, out, flags


def analyse(
    scores: pd.DataFrame,
    max_scores: Mapping[str, float],
    options: pd.DataFrame | None = None,
    keys: Mapping[str, set[str]] | None = None,
    *,
    confidence: float = CONFIDENCE,
) -> Analysis:
    """The item analysis of ``scores`` (rows examinees, columns item codes, NaN for
    items an examinee did not have; points between 0 and ``max_scores[item]``).
    ``options``: the option chosen per examinee and choice item (same row index;
    columns only for choice items); ``keys``: each choice item's correct options.
    Rows without any score are left out."""
    scores = scores.astype(float).dropna(how="all")
    items = list(scores.columns)
    x = scores.to_numpy()
    m = np.array([float(max_scores[item]) for item in items])
    seen = ~np.isnan(x)
    points = np.where(seen, x, 0.0).sum(axis=1)
    possible = (seen * m).sum(axis=1)
    n = len(scores)
    score = points / possible if n else np.array([])

    alpha, length = cronbach_alpha(scores)
    dichotomous = bool(
        np.all((x[seen] == 0) | (x[seen] == np.broadcast_to(m, x.shape)[seen]))
    )
    error_ratio = float(np.sqrt(1 - alpha)) if alpha is not None else None
    sd = float(score.std(ddof=1)) if n >= 2 else None
    test = TestStats(
        n=n,
        items=len(items),
        mean=float(score.mean()) if n else None,
        sd=sd,
        skewness=skewness(score) if n else None,
        kurtosis=kurtosis(score) if n else None,
        alpha=alpha,
        alpha_ci=(
            feldt_interval(alpha, n, length, confidence) if alpha is not None else None
        ),
        kr20=alpha if alpha is not None and dichotomous else None,
        error_ratio=error_ratio,
        sem=sd * error_ratio if sd is not None and error_ratio is not None else None,
    )

    quartile = _quartiles(score)
    covariances: list[float | None] = []
    partial: list[dict[str, Any]] = []
    for j, item in enumerate(items):
        rows = seen[:, j]
        xj, pj = x[rows, j], score[rows]
        count = int(rows.sum())
        others = possible[rows] - m[j]
        rest_rows = others > 0
        xr = xj[rest_rows]
        rest = (points[rows][rest_rows] - xr) / others[rest_rows]
        efficiency = None
        if len(xr) >= 2:
            cov_max = _cov(np.sort(xr), np.sort(rest))
            if cov_max > 0:
                efficiency = _cov(xr, rest) / cov_max
        covariances.append(_cov(xj, pj) if count >= 2 else None)
        spread = float(xj.std(ddof=1) / m[j]) if count >= 2 else None
        partial.append(
            {
                "item": item,
                "n": count,
                "max_score": float(m[j]),
                "facility": float(xj.mean() / m[j]) if count else None,
                "sd": spread,
                "discrimination_index": _corr(xr, rest),
                "discriminative_efficiency": efficiency,
                "point_biserial": _corr(xj, pj),
                "intended_weight": float(m[j] / m.sum()),
            }
        )
    weight_sum = sum(np.sqrt(c) for c in covariances if c is not None and c >= 0)

    results = []
    for j, item in enumerate(items):
        data = partial[j]
        c = covariances[j]
        data["effective_weight"] = (
            float(np.sqrt(c) / weight_sum)
            if c is not None and c >= 0 and weight_sum > 0
            else None
        )
        flags = _flags(data, c)
        quartile_n = option_stats = None
        if options is not None and item in options.columns:
            rows = seen[:, j]
            chosen = options[item].reindex(scores.index)[rows]
            quartile_n, option_stats, option_flags = _options(
                chosen,
                x[rows, j],
                quartile[rows],
                m[j],
                set(keys[item]) if keys and item in keys else None,
            )
            flags += option_flags
        results.append(
            ItemStats(**data, flags=flags, quartile_n=quartile_n, options=option_stats)
        )
    return Analysis(test=test, items=results)


def _flags(data: dict[str, Any], covariance: float | None) -> list[Flag]:
    flags = []
    if data["n"] < MIN_RESPONSES:
        flags.append(Flag("few_responses", data["n"]))
    if data["sd"] == 0:
        flags.append(Flag("no_variance", 0.0))
    index = data["discrimination_index"]
    if index is not None and index < 0:
        flags.append(Flag("negative_discrimination", index))
    elif index is not None and index < LOW_DISCRIMINATION:
        flags.append(Flag("low_discrimination", index))
    facility = data["facility"]
    if facility is not None and facility >= VERY_EASY:
        flags.append(Flag("very_easy", facility))
    elif facility is not None and facility <= VERY_HARD:
        flags.append(Flag("very_hard", facility))
    if covariance is not None and covariance < 0:
        flags.append(Flag("negative_covariance", covariance))
    return flags
