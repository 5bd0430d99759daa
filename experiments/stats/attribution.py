"""Touchpoint attribution: which touchpoint types carry the conversions.

A :class:`Path` is one unit's touchpoints (call, visit, demo, email, ...) in time
order, whether the unit converted, and optionally each touch's age (time from the
touch to the conversion). Identical paths may be given once with a ``count``; the
functions aggregate identical paths themselves before any arithmetic, so 200,000
paths cost about as much as their distinct sequences.

Six methods, each returning a :class:`MethodResult` whose shares over the
touchpoint types sum to 1 (or are empty, with a ``reason`` code):

* ``first_touch`` / ``last_touch``: each conversion to its first / last touch;
* ``linear``: each conversion split evenly over its touches (a type touched
  twice gets two parts);
* ``time_decay``: each conversion split in proportion to 2^(−age/half-life);
* ``markov``: first-order Markov chain removal effect (Anderl et al. 2016,
  "Mapping the customer journey", IJRM 33(3));
* ``shapley``: Shapley values of a cooperative game over touchpoint types
  (Shao & Li 2011; Dalessandro et al. 2012; Zhao et al. 2018,
  arXiv:1804.05327), see :func:`shapley`.

Attribution is descriptive: it says how conversions are spread over touchpoints,
not what a touchpoint causes. The A/B comparison is the causal part.
"""

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from experiments.stats.estimates import json_float

FIRST_TOUCH = "first_touch"
LAST_TOUCH = "last_touch"
LINEAR = "linear"
TIME_DECAY = "time_decay"
MARKOV = "markov"
SHAPLEY = "shapley"
METHODS = (FIRST_TOUCH, LAST_TOUCH, LINEAR, TIME_DECAY, MARKOV, SHAPLEY)

#: Reason codes for an empty result (sentences belong in experiments.stats.messages).
NO_CONVERSIONS = "NO_CONVERSIONS"
NO_TOUCHPOINTS = "NO_TOUCHPOINTS"
NO_TIMESTAMPS = "NO_TIMESTAMPS"
TOO_MANY_TYPES = "TOO_MANY_TYPES"

#: Default time-decay half-life, in the unit of the ages (days from
#: :func:`path_from_events`): a touch a week before the conversion counts half.
DEFAULT_HALF_LIFE = 7.0
#: Exact Shapley values enumerate 2^k coalitions of the k converting types.
MAX_SHAPLEY_TYPES = 16


@dataclass(frozen=True)
class Path:
    """One unit's touchpoints in time order.

    ``ages[i]`` is the time from touch ``i`` to the conversion (any unit, the same
    as the half-life's; ≥ 0), needed for ``time_decay`` on converting paths only.
    ``count`` is how many units share this path (a weight, > 0).
    """

    touches: tuple[str, ...]
    converted: bool
    ages: tuple[float, ...] | None = None
    count: float = 1.0

    def __post_init__(self) -> None:
        if not self.count > 0:
            raise ValueError(f"a path's count must be positive, not {self.count!r}")
        if self.ages is not None:
            if len(self.ages) != len(self.touches):
                raise ValueError("a path needs one age per touch")
            if any(not age >= 0 for age in self.ages):
                raise ValueError("ages are times before the conversion: >= 0")


def path_from_events(
    events: Iterable[tuple[str, datetime | float]],
    *,
    converted: bool,
    end: datetime | float,
    count: float = 1.0,
) -> Path:
    """A :class:`Path` from ``(touchpoint type, time)`` pairs in any order.

    Touches are sorted by time (stable for ties); each age is ``end − time``: in
    days for datetimes, in the numbers' own unit otherwise. ``end`` is the
    conversion's time (for a path that did not convert, the end of the window).
    """
    ordered = sorted(events, key=lambda event: event[1])
    ages = []
    for _, at in ordered:
        gap = end - at
        ages.append(gap.total_seconds() / 86_400 if hasattr(gap, "days") else gap)
    return Path(
        tuple(kind for kind, _ in ordered),
        converted,
        tuple(float(a) for a in ages),
        count,
    )


@dataclass(frozen=True)
class MethodResult:
    """One attribution method's answer.

    ``shares``: type → share of the attributed credit, summing to 1 over every
    type seen in the paths (0 for types given no credit); empty when ``reason``
    is set. ``values``: the method's own numbers before normalising: conversions
    credited (first/last touch, linear, time decay, Shapley) or the removal effect
    (Markov, a fraction 0..1 of the conversion probability lost without the type).
    """

    method: str
    shares: dict[str, float]
    values: dict[str, float]
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON (non-finite numbers become None)."""
        return {
            "method": self.method,
            "shares": {k: json_float(v) for k, v in self.shares.items()},
            "values": {k: json_float(v) for k, v in self.values.items()},
            "reason": self.reason,
        }


@dataclass(frozen=True)
class TouchpointAttribution:
    """Every requested method over one set of paths (for example one variant's).

    ``paths`` and ``conversions`` are weighted counts; ``unattributed`` counts
    conversions with no touch before them (no method can credit them);
    ``conversion_probability`` is the Markov chain's P(start → conversion).
    """

    types: tuple[str, ...]
    paths: float
    conversions: float
    unattributed: float
    half_life: float
    conversion_probability: float
    methods: dict[str, MethodResult] = field(default_factory=dict)

    def shares(self) -> dict[str, dict[str, float]]:
        """``{method: {type: share}}``, the API's ``touchpoints`` shape."""
        return {name: dict(result.shares) for name, result in self.methods.items()}

    def to_dict(self) -> dict[str, Any]:
        """The attribution as JSON."""
        return {
            "types": list(self.types),
            "paths": json_float(self.paths),
            "conversions": json_float(self.conversions),
            "unattributed": json_float(self.unattributed),
            "half_life": json_float(self.half_life),
            "conversion_probability": json_float(self.conversion_probability),
            "methods": {name: r.to_dict() for name, r in self.methods.items()},
        }


@dataclass(frozen=True)
class _Aggregate:
    """Distinct (touches, converted) sequences with their summed counts."""

    types: tuple[str, ...]
    sequences: dict[tuple[tuple[str, ...], bool], float]
    #: Converting paths with ages: (touches, ages) → summed count; None when a
    #: converting path has no ages.
    timed: dict[tuple[tuple[str, ...], tuple[float, ...]], float] | None
    paths: float
    conversions: float
    unattributed: float


def _aggregate(paths: Iterable[Path]) -> _Aggregate:
    sequences: Counter = Counter()
    timed: Counter | None = Counter()
    for path in paths:
        sequences[path.touches, path.converted] += path.count
        if path.converted and path.touches and timed is not None:
            if path.ages is None:
                timed = None
            else:
                timed[path.touches, path.ages] += path.count
    types = sorted({kind for touches, _ in sequences for kind in touches})
    conversions = math.fsum(n for (_, won), n in sequences.items() if won)
    unattributed = sequences.get(((), True), 0.0)
    total = math.fsum(sequences.values())
    return _Aggregate(
        tuple(types), dict(sequences), timed, total, conversions, unattributed
    )


def _empty_reason(agg: _Aggregate) -> str | None:
    if agg.conversions <= 0:
        return NO_CONVERSIONS
    if agg.conversions - agg.unattributed <= 0:
        return NO_TOUCHPOINTS
    return None


def _result(
    method: str, types: Sequence[str], values: dict[str, float]
) -> MethodResult:
    full = {kind: float(values.get(kind, 0.0)) for kind in types}
    total = math.fsum(full.values())
    if not total > 0:
        return MethodResult(method, {}, full, NO_TOUCHPOINTS)
    return MethodResult(method, {k: v / total for k, v in full.items()}, full)


def _position(agg: _Aggregate, method: str) -> MethodResult:
    credit: Counter = Counter()
    for (touches, won), n in agg.sequences.items():
        if not (won and touches):
            continue
        if method == FIRST_TOUCH:
            credit[touches[0]] += n
        elif method == LAST_TOUCH:
            credit[touches[-1]] += n
        else:
            for kind in touches:
                credit[kind] += n / len(touches)
    return _result(method, agg.types, credit)


def _time_decay(agg: _Aggregate, half_life: float) -> MethodResult:
    if agg.timed is None:
        return MethodResult(TIME_DECAY, {}, {}, NO_TIMESTAMPS)
    credit: Counter = Counter()
    for (touches, ages), n in agg.timed.items():
        # Relative to the most recent touch, so 2^(−age/h) never underflows to 0/0.
        youngest = min(ages)
        weights = [2.0 ** (-(age - youngest) / half_life) for age in ages]
        total = math.fsum(weights)
        for kind, weight in zip(touches, weights, strict=True):
            credit[kind] += n * weight / total
    return _result(TIME_DECAY, agg.types, credit)


def _transition_matrix(agg: _Aggregate) -> np.ndarray:
    """Transition probabilities; rows and columns: start, the types (in
    ``agg.types`` order), conversion, null. Absorbing rows stay zero."""
    k = len(agg.types)
    index = {kind: i + 1 for i, kind in enumerate(agg.types)}
    conversion, null = k + 1, k + 2
    sources: list[int] = []
    targets: list[int] = []
    weights: list[float] = []
    for (touches, won), n in agg.sequences.items():
        states = [0, *(index[kind] for kind in touches), conversion if won else null]
        sources.extend(states[:-1])
        targets.extend(states[1:])
        weights.extend([n] * (len(states) - 1))
    counts = np.zeros((k + 3, k + 3))
    np.add.at(counts, (np.array(sources), np.array(targets)), np.array(weights))
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def _conversion_probability(matrix: np.ndarray, removed: int | None = None) -> float:
    """P(absorbed in conversion | start), solving (I − Q)x = r for the transient
    states (start and types); with ``removed``, transitions into that state go
    to null instead (its column of Q is zeroed)."""
    transient = matrix.shape[0] - 2
    q = matrix[:transient, :transient].copy()
    r = matrix[:transient, transient].copy()
    if removed is not None:
        q[:, removed] = 0.0
        r[removed] = 0.0
    x = np.linalg.solve(np.eye(transient) - q, r)
    return float(x[0])


def _markov(agg: _Aggregate) -> tuple[MethodResult, float]:
    matrix = _transition_matrix(agg)
    base = _conversion_probability(matrix)
    if not base > 0:
        return MethodResult(MARKOV, {}, {}, NO_CONVERSIONS), base
    effects = {
        kind: max(0.0, 1.0 - _conversion_probability(matrix, i + 1) / base)
        for i, kind in enumerate(agg.types)
    }
    return _result(MARKOV, agg.types, effects), base


def _shapley(agg: _Aggregate) -> MethodResult:
    players = sorted(
        {kind for (touches, won), _ in agg.sequences.items() if won for kind in touches}
    )
    k = len(players)
    if k > MAX_SHAPLEY_TYPES:
        return MethodResult(SHAPLEY, {}, {}, TOO_MANY_TYPES)
    bit = {kind: 1 << i for i, kind in enumerate(players)}
    # v starts as conversions by exact type-set; the subset-sum (zeta) transform
    # turns it into v(S) = Σ_{T ⊆ S} conversions(T), k passes over 2^k numbers.
    value = np.zeros(1 << k)
    for (touches, won), n in agg.sequences.items():
        if won:
            value[sum(bit[kind] for kind in set(touches))] += n
    for i in range(k):
        pairs = value.reshape(-1, 2, 1 << i)
        pairs[:, 1, :] += pairs[:, 0, :]
    sizes = np.zeros(1 << k, dtype=int)
    for i in range(k):
        sizes.reshape(-1, 2, 1 << i)[:, 1, :] += 1
    # Shapley weight of a coalition of size s not containing the player:
    # s!(k − s − 1)!/k!.
    weight = np.array(
        [
            math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k)
            for s in range(k)
        ]
    )
    values = {}
    for i, kind in enumerate(players):
        without = value.reshape(-1, 2, 1 << i)[:, 0, :]
        with_ = value.reshape(-1, 2, 1 << i)[:, 1, :]
        size = sizes.reshape(-1, 2, 1 << i)[:, 0, :]
        values[kind] = float(np.sum(weight[size] * (with_ - without)))
    return _result(SHAPLEY, agg.types, values)


def attribute(
    paths: Iterable[Path],
    *,
    methods: Sequence[str] = METHODS,
    half_life: float = DEFAULT_HALF_LIFE,
) -> TouchpointAttribution:
    """Attribute the paths' conversions to touchpoint types with each of
    ``methods`` (default: all six, see the module docstring).

    Without conversions every method is empty with reason ``NO_CONVERSIONS``;
    when no conversion has a touch before it, ``NO_TOUCHPOINTS``. ``time_decay``
    needs ages on every converting path (else ``NO_TIMESTAMPS``); ``shapley``
    handles up to :data:`MAX_SHAPLEY_TYPES` types seen on converting paths
    (else ``TOO_MANY_TYPES``). Raises ValueError for an unknown method or a
    half-life that is not positive.
    """
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown attribution methods: {sorted(unknown)}")
    if not half_life > 0:
        raise ValueError(f"the half-life must be positive, not {half_life!r}")
    agg = _aggregate(paths)
    reason = _empty_reason(agg)
    results: dict[str, MethodResult] = {}
    probability = math.nan
    for method in methods:
        if reason is not None:
            results[method] = MethodResult(method, {}, {}, reason)
        elif method == TIME_DECAY:
            results[method] = _time_decay(agg, half_life)
        elif method == MARKOV:
            results[method], probability = _markov(agg)
        elif method == SHAPLEY:
            results[method] = _shapley(agg)
        else:
            results[method] = _position(agg, method)
    return TouchpointAttribution(
        types=agg.types,
        paths=agg.paths,
        conversions=agg.conversions,
        unattributed=agg.unattributed,
        half_life=half_life,
        conversion_probability=probability,
        methods=results,
    )


def markov(paths: Iterable[Path]) -> MethodResult:
    """First-order Markov chain removal effects, normalised to shares.

    States: start, one per touchpoint type, conversion and null (no conversion).
    Every path start → t₁ → … → tₙ → conversion|null adds its count to each
    transition; probabilities are the row-normalised counts. P(conversion) is
    the absorption probability from start, from the linear system (I − Q)x = r
    (Q: transient-to-transient block, r: transient-to-conversion column), not a
    simulation. Removing a type sends every transition into it to null; its
    removal effect is 1 − P(conversion without it)/P(conversion), a fraction in
    [0, 1], and the shares are the removal effects divided by their sum
    (``values`` holds the removal effects). Repeated touches of one type are
    self-loops, which do not change absorption probabilities.
    """
    return attribute(paths, methods=(MARKOV,)).methods[MARKOV]


def shapley(paths: Iterable[Path]) -> MethodResult:
    """Exact Shapley values of the touchpoint types, normalised to shares.

    The characteristic function (Zhao et al. 2018's "simplified" Shapley, the
    counting form of Shao & Li 2011 and Dalessandro et al. 2012): v(S) = the
    conversions of paths whose set of touched types is a subset of S. So a
    coalition is worth the conversions it could have produced alone; order and
    repeats within a path do not matter, and non-converting paths carry no
    value. φᵢ = Σ_{S ∌ i} |S|!(k − |S| − 1)!/k! · (v(S ∪ {i}) − v(S)), computed
    over all 2^k coalitions of the k types seen on converting paths (types seen
    only on non-converting paths are null players: 0 exactly). ``values`` are
    the φᵢ in conversions; they sum to the conversions with at least one touch.
    With this v the game is a sum of unanimity games, so φᵢ also equals each
    exact type-set's conversions split evenly over its types (a check the tests
    use, not a shortcut taken here).
    """
    return attribute(paths, methods=(SHAPLEY,)).methods[SHAPLEY]


def first_touch(paths: Iterable[Path]) -> MethodResult:
    """Each conversion credited to the first touch of its path."""
    return attribute(paths, methods=(FIRST_TOUCH,)).methods[FIRST_TOUCH]


def last_touch(paths: Iterable[Path]) -> MethodResult:
    """Each conversion credited to the last touch of its path."""
    return attribute(paths, methods=(LAST_TOUCH,)).methods[LAST_TOUCH]


def linear(paths: Iterable[Path]) -> MethodResult:
    """Each conversion split evenly over the touches of its path (n touches:
    1/n each, so a type touched twice gets 2/n)."""
    return attribute(paths, methods=(LINEAR,)).methods[LINEAR]


def time_decay(
    paths: Iterable[Path], *, half_life: float = DEFAULT_HALF_LIFE
) -> MethodResult:
    """Each conversion split over its touches in proportion to 2^(−age/half_life),
    age being the time from the touch to the conversion (a touch one half-life
    earlier than another gets half its weight)."""
    return attribute(paths, methods=(TIME_DECAY,), half_life=half_life).methods[
        TIME_DECAY
    ]
