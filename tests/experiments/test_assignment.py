"""Deterministic assignment: pure functions, checked for balance and stability."""

import hashlib

import pytest
from scipy import stats

from experiments.assignment import Splitter, bucket


def test_bucket_is_the_documented_hash():
    digest = hashlib.sha256(b"salt:lead-1").digest()
    assert bucket("salt", "lead-1") == int.from_bytes(digest[:8], "big") / 2**64


def test_same_answer_every_time_and_from_every_splitter():
    a = Splitter.of("s1", [("control", 0.5), ("b", 0.5)])
    b = Splitter.of("s1", [("control", 0.5), ("b", 0.5)])
    ids = [f"lead-{i}" for i in range(2000)]
    assert [a.variant(i) for i in ids] == [b.variant(i) for i in ids]
    assert [a.variant(i) for i in ids] == [a.variant(i) for i in ids]


@pytest.mark.parametrize("weights", [(0.5, 0.5), (0.2, 0.3, 0.5), (0.9, 0.1)])
def test_split_matches_the_weights(weights):
    keys = [f"v{i}" for i in range(len(weights))]
    splitter = Splitter.of("balance", list(zip(keys, weights, strict=True)))
    n = 60_000
    counts = dict.fromkeys(keys, 0)
    for i in range(n):
        counts[splitter.variant(f"unit-{i}")] += 1
    observed = [counts[k] for k in keys]
    expected = [w * n for w in weights]
    # A correct hash passes a goodness-of-fit test at any sensible level.
    assert stats.chisquare(observed, expected).pvalue > 0.001


def test_salts_split_independently():
    a = Splitter.of("salt-a", [("control", 0.5), ("b", 0.5)])
    b = Splitter.of("salt-b", [("control", 0.5), ("b", 0.5)])
    same = sum(a.variant(f"u{i}") == b.variant(f"u{i}") for i in range(20_000))
    assert 0.48 < same / 20_000 < 0.52  # agreement by chance only


def test_weights_are_normalised_and_never_fall_off_the_end():
    splitter = Splitter.of("x", [("a", 1), ("b", 3)])
    assert splitter.bounds == (0.25, 1.0)
    assert {splitter.variant(str(i)) for i in range(1000)} == {"a", "b"}
    with pytest.raises(ValueError):
        Splitter.of("x", [])
