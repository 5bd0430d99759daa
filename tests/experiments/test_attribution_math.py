"""Touchpoint attribution (experiments.stats.attribution) against hand-worked
examples and brute force.

The hand example: types A, B, C and a dozen paths, every transition forward
(A → B → C), so the Markov absorption probabilities come out by back-substitution.

    1  A B   conv         7  B     null
    2  A A   conv         8  A B   null
    3  B C   conv         9  A B C conv
    4  A C   conv        10  C     null
    5  C     conv        11  B     null
    6  A     null        12  A C   null

Six conversions out of twelve paths.
"""

import itertools
import math
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import numpy as np
import pytest

from experiments.stats import attribution
from experiments.stats.attribution import Path, attribute, path_from_events

CONV, NULL = True, False
#: Ages (days before the conversion) for the converting paths, half-life 7 days.
HAND = [
    Path(("A", "B"), CONV, (14.0, 7.0)),
    Path(("A", "A"), CONV, (7.0, 0.0)),
    Path(("B", "C"), CONV, (7.0, 0.0)),
    Path(("A", "C"), CONV, (21.0, 0.0)),
    Path(("C",), CONV, (3.0,)),
    Path(("A",), NULL),
    Path(("B",), NULL),
    Path(("A", "B"), NULL),
    Path(("A", "B", "C"), CONV, (14.0, 7.0, 0.0)),
    Path(("C",), NULL),
    Path(("B",), NULL),
    Path(("A", "C"), NULL),
]


def shares(result):
    return {kind: pytest.approx(share, abs=1e-12) for kind, share in result.items()}


def test_hand_example_first_last_linear():
    got = attribute(HAND).shares()
    # First touch of the converting paths 1, 2, 3, 4, 5, 9: A A B A C A.
    assert got["first_touch"] == shares({"A": 4 / 6, "B": 1 / 6, "C": 1 / 6})
    # Last touch: B A C C C C.
    assert got["last_touch"] == shares({"A": 1 / 6, "B": 1 / 6, "C": 4 / 6})
    # Linear: 1 → A ½ B ½; 2 → A ½ + ½; 3 → B ½ C ½; 4 → A ½ C ½; 5 → C 1;
    # 9 → ⅓ each.  A = ½+1+½+⅓ = 7/3, B = ½+½+⅓ = 4/3, C = ½+½+1+⅓ = 7/3.
    assert got["linear"] == shares({"A": 7 / 18, "B": 4 / 18, "C": 7 / 18})


def test_hand_example_time_decay():
    # Half-life 7 days, weight 2^(−age/7) per touch, normalised per path:
    # 1: A 2⁻² = ¼, B 2⁻¹ = ½        → A ⅓, B ⅔
    # 2: A ½, A 1                     → A 1
    # 3: B ½, C 1                     → B ⅓, C ⅔
    # 4: A 2⁻³ = ⅛, C 1               → A 1/9, C 8/9
    # 5: C                            → C 1
    # 9: A ¼, B ½, C 1 (sum 7/4)      → A 1/7, B 2/7, C 4/7
    # A = ⅓ + 1 + 1/9 + 1/7 = 100/63; B = ⅔ + ⅓ + 2/7 = 81/63;
    # C = ⅔ + 8/9 + 1 + 4/7 = 197/63; total 378/63 = 6 conversions.
    got = attribute(HAND, half_life=7.0).methods["time_decay"]
    assert got.shares == shares({"A": 100 / 378, "B": 81 / 378, "C": 197 / 378})
    assert got.values == shares({"A": 100 / 63, "B": 81 / 63, "C": 197 / 63})
    # A half-life of 7 hours in days makes the last touch take nearly all.
    steep = attribute(HAND, half_life=7 / 24).methods["time_decay"].shares
    assert steep["C"] > 0.66 and steep["A"] < 0.18


def test_hand_example_markov_removal_effects():
    # Transition counts (path 2's A → A is a self-loop, which leaves absorption
    # probabilities unchanged: x_A = (3x_B + 1 + 2x_C)/7 with or without it):
    #   start → A 7, B 3, C 2            (of 12)
    #   A → B 3, conv 1, C 2, null 1     (of 7, not counting A → A)
    #   B → conv 1, C 2, null 3          (of 6)
    #   C → conv 4, null 2               (of 6)
    # P(conversion from state):
    #   x_C = 4/6 = 2/3
    #   x_B = 1/6 + 2/6·2/3 = 7/18
    #   x_A = 3/7·7/18 + 1/7 + 2/7·2/3 = 1/6 + 1/7 + 4/21 = 1/2
    #   P = 7/12·1/2 + 3/12·7/18 + 2/12·2/3 = 36/72 = 1/2
    # Without A (x_A = 0): P = 3/12·7/18 + 2/12·2/3 = 15/72 = 5/24 → RE 7/12
    # Without B: x_A = 1/7 + 4/21 = 1/3; P = 7/36 + 4/36 = 11/36   → RE 7/18
    # Without C: x_B = 1/6, x_A = 3/14; P = 1/8 + 1/24 = 1/6        → RE 2/3
    # Sum of effects 59/36: shares A 21/59, B 14/59, C 24/59.
    got = attribute(HAND)
    assert got.conversion_probability == pytest.approx(0.5, abs=1e-12)
    markov = got.methods["markov"]
    assert markov.values == shares({"A": 7 / 12, "B": 7 / 18, "C": 2 / 3})
    assert markov.shares == shares({"A": 21 / 59, "B": 14 / 59, "C": 24 / 59})


def test_hand_example_shapley():
    # Converting type-sets: {A,B} {A} {B,C} {A,C} {C} {A,B,C}.
    # v(S) = conversions whose set ⊆ S:
    #   v(∅)=0 v(A)=1 v(B)=0 v(C)=1 v(AB)=2 v(AC)=3 v(BC)=2 v(ABC)=6
    # Weights s!(2−s)!/3!: ⅓ (s=0), ⅙ (s=1), ⅓ (s=2).
    # φ_A = ⅓·1 + ⅙·(2−0) + ⅙·(3−1) + ⅓·(6−2) = 7/3
    # φ_B = ⅓·0 + ⅙·(2−1) + ⅙·(2−1) + ⅓·(6−3) = 4/3
    # φ_C = ⅓·1 + ⅙·(3−1) + ⅙·(2−0) + ⅓·(6−2) = 7/3      (sum 6)
    got = attribute(HAND).methods["shapley"]
    assert got.values == shares({"A": 7 / 3, "B": 4 / 3, "C": 7 / 3})
    assert got.shares == shares({"A": 7 / 18, "B": 4 / 18, "C": 7 / 18})


def test_counts_aggregate_like_repeated_paths():
    repeated = [Path(("A", "B"), CONV, (2.0, 1.0))] * 3 + [Path(("B",), NULL)] * 5
    counted = [
        Path(("A", "B"), CONV, (2.0, 1.0), count=3),
        Path(("B",), NULL, count=5),
    ]
    assert attribute(repeated).to_dict() == attribute(counted).to_dict()


# --- brute force on random data -------------------------------------------------


def random_paths(seed, types, n=300, max_length=5):
    rng = np.random.default_rng(seed)
    paths = []
    for _ in range(n):
        length = int(rng.integers(0, max_length + 1))
        touches = tuple(types[i] for i in rng.integers(0, len(types), length))
        # Types later in the alphabet convert more, so the shares differ.
        rate = 0.1 + 0.1 * sum(types.index(t) for t in set(touches)) / len(types)
        paths.append(Path(touches, bool(rng.random() < rate)))
    return paths


def markov_by_iteration(paths, removed=None):
    """P(conversion) by iterating x ← Qx + r with dictionaries until it stops
    moving: no linear algebra, an independent route to the absorption."""
    counts = {}
    for path in paths:
        states = ["start", *path.touches, "conv" if path.converted else "null"]
        for a, b in itertools.pairwise(states):
            counts.setdefault(a, {}).setdefault(b, 0.0)
            counts[a][b] += path.count
    x = dict.fromkeys(counts, 0.0)
    for _ in range(100_000):
        new = {}
        for state, row in counts.items():
            total = sum(row.values())
            new[state] = sum(
                n
                / total
                * (1.0 if b == "conv" else 0.0 if b in ("null", removed) else x[b])
                for b, n in row.items()
            )
        if max(abs(new[s] - x[s]) for s in x) < 1e-15:
            break
        x = new
    return new["start"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_markov_matches_fixed_point_iteration(seed):
    types = ["call", "demo", "email", "visit"]
    paths = random_paths(seed, types)
    got = attribute(paths)
    base = markov_by_iteration(paths)
    assert got.conversion_probability == pytest.approx(base, abs=1e-12)
    effects = {t: 1 - markov_by_iteration(paths, removed=t) / base for t in types}
    assert got.methods["markov"].values == shares(effects)


def test_markov_matches_simulating_the_chain():
    types = ["call", "demo", "email", "visit"]
    paths = random_paths(7, types, n=500)
    got = attribute(paths)
    # Walk 200,000 journeys through the fitted chain (seeded, vectorised).
    states = ["start", *types, "conv", "null"]
    index = {s: i for i, s in enumerate(states)}
    counts = np.zeros((len(states), len(states)))
    for path in paths:
        seq = ["start", *path.touches, "conv" if path.converted else "null"]
        for a, b in itertools.pairwise(seq):
            counts[index[a], index[b]] += 1
    probs = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    cumulative = np.cumsum(probs, axis=1)
    rng = np.random.default_rng(11)
    walk = np.zeros(200_000, dtype=int)
    while np.any(walk < index["conv"]):
        moving = walk < index["conv"]
        draws = rng.random(moving.sum())
        rows = cumulative[walk[moving]]
        walk[moving] = np.minimum((draws[:, None] > rows).sum(axis=1), len(states) - 1)
    simulated = np.mean(walk == index["conv"])
    # Standard error √(p(1−p)/200,000) ≈ 0.001: five of them.
    assert got.conversion_probability == pytest.approx(simulated, abs=0.005)


def shapley_by_permutations(paths):
    """φᵢ as the mean marginal contribution over all k! orderings of the types,
    with v(S) counted straight from the paths."""
    converting = [(frozenset(p.touches), p.count) for p in paths if p.converted]
    players = sorted({t for touched, _ in converting for t in touched})

    def v(coalition):
        return sum(n for touched, n in converting if touched <= coalition)

    totals = dict.fromkeys(players, 0.0)
    orderings = list(itertools.permutations(players))
    for order in orderings:
        before = frozenset()
        for player in order:
            totals[player] += v(before | {player}) - v(before)
            before = before | {player}
    return {p: total / len(orderings) for p, total in totals.items()}


@pytest.mark.parametrize("seed", [4, 5])
def test_shapley_matches_the_permutation_definition(seed):
    types = ["call", "demo", "email", "proposal", "visit", "wechat"]
    paths = random_paths(seed, types, n=400, max_length=4)
    got = attribute(paths).methods["shapley"]
    assert got.values == shares(shapley_by_permutations(paths))
    # With this v(S) the value also equals each type-set's conversions split
    # evenly over its types (Zhao et al. 2018), exact in rationals.
    even = dict.fromkeys(types, Fraction(0))
    for path in paths:
        if path.converted and path.touches:
            for t in set(path.touches):
                even[t] += Fraction(1, len(set(path.touches)))
    assert got.values == shares({t: float(v) for t, v in even.items()})


# --- invariants -----------------------------------------------------------------


@pytest.mark.parametrize("seed", [8, 9])
def test_every_method_sums_to_one(seed):
    paths = random_paths(seed, ["a", "b", "c", "d", "e"])
    paths = [
        Path(p.touches, p.converted, tuple(float(i) for i in range(len(p.touches))))
        for p in paths
    ]
    got = attribute(paths)
    assert set(got.methods) == set(attribution.METHODS)
    for result in got.methods.values():
        assert result.reason is None
        assert math.fsum(result.shares.values()) == pytest.approx(1, abs=1e-12)
        assert all(share >= 0 for share in result.shares.values())


def test_swapping_two_labels_swaps_their_shares():
    paths = random_paths(10, ["a", "b", "c"])
    swap = {"a": "b", "b": "a", "c": "c"}
    swapped = [Path(tuple(swap[t] for t in p.touches), p.converted) for p in paths]
    methods = ("first_touch", "last_touch", "linear", "markov", "shapley")
    original = attribute(paths, methods=methods).shares()
    mirrored = attribute(swapped, methods=methods).shares()
    for method in methods:
        expected = {swap[t]: share for t, share in original[method].items()}
        assert mirrored[method] == shares(expected)


def test_symmetric_types_get_equal_shares():
    paths = [
        Path(("a", "b"), CONV),
        Path(("b", "a"), CONV),
        Path(("a",), NULL),
        Path(("b",), NULL),
    ]
    got = attribute(paths, methods=("linear", "markov", "shapley")).shares()
    for method in ("linear", "markov", "shapley"):
        assert got[method] == shares({"a": 0.5, "b": 0.5})


def test_a_type_only_on_lost_paths_gets_nothing():
    paths = [*HAND, Path(("spam",), NULL), Path(("A", "spam"), NULL)]
    got = attribute(paths)
    assert got.types == ("A", "B", "C", "spam")
    for result in got.methods.values():
        assert result.shares["spam"] == 0
    # A type absent from every path is not in the answer at all.
    assert "demo" not in got.methods["markov"].shares


def test_a_type_first_on_every_converting_path_takes_all_first_touch_credit():
    paths = [
        Path(("call", "visit"), CONV),
        Path(("call", "demo", "visit"), CONV),
        Path(("call",), CONV, count=4),
        Path(("visit", "call"), NULL),
    ]
    got = attribute(paths, methods=("first_touch",)).methods["first_touch"]
    assert got.shares == {"call": 1.0, "demo": 0.0, "visit": 0.0}
    assert got.values == {"call": 6.0, "demo": 0.0, "visit": 0.0}


# --- edges ----------------------------------------------------------------------


def test_no_conversions_is_empty_with_a_reason():
    got = attribute([Path(("a",), NULL), Path(("b", "a"), NULL)])
    for result in got.methods.values():
        assert result.shares == {}
        assert result.reason == attribution.NO_CONVERSIONS
    assert attribute([]).methods["markov"].reason == attribution.NO_CONVERSIONS


def test_conversions_without_touches_are_unattributed():
    got = attribute([Path((), CONV, count=3), Path(("a",), NULL)])
    assert got.unattributed == 3
    assert got.methods["shapley"].reason == attribution.NO_TOUCHPOINTS
    mixed = attribute([Path((), CONV), Path(("a",), CONV, (1.0,))])
    assert mixed.unattributed == 1 and mixed.conversions == 2
    assert mixed.methods["first_touch"].shares == {"a": 1.0}


def test_time_decay_without_ages_is_empty():
    got = attribute([Path(("a",), CONV), Path(("b",), NULL)])
    assert got.methods["time_decay"].reason == attribution.NO_TIMESTAMPS
    assert got.methods["linear"].shares == {"a": 1.0, "b": 0.0}


def test_shapley_beyond_the_type_limit_says_so(monkeypatch):
    monkeypatch.setattr(attribution, "MAX_SHAPLEY_TYPES", 2)
    got = attribute([Path(("a", "b", "c"), CONV)]).methods["shapley"]
    assert got.reason == attribution.TOO_MANY_TYPES


def test_path_from_events_sorts_and_measures_ages_in_days():
    won = datetime(2026, 3, 10, 12, tzinfo=UTC)
    path = path_from_events(
        [
            ("visit", won - timedelta(days=2)),
            ("call", won - timedelta(days=9, hours=12)),
        ],
        converted=True,
        end=won,
    )
    assert path.touches == ("call", "visit")
    assert path.ages == (9.5, 2.0)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="one age per touch"):
        Path(("a", "b"), CONV, (1.0,))
    with pytest.raises(ValueError, match=">= 0"):
        Path(("a",), CONV, (-1.0,))
    with pytest.raises(ValueError, match="positive"):
        Path(("a",), CONV, count=0)
    with pytest.raises(ValueError, match="unknown attribution"):
        attribute(HAND, methods=("u_shaped",))
    with pytest.raises(ValueError, match="half-life"):
        attribute(HAND, half_life=0)


def test_result_serialises():
    import json

    payload = attribute(HAND).to_dict()
    json.dumps(payload, allow_nan=False)
    assert payload["methods"]["markov"]["shares"]["A"] == pytest.approx(21 / 59)
