"""Deterministic, sticky assignment of units to variants: no lookup, no state.

A unit's variant is a function of (experiment salt, unit or cluster id) alone, so
every server and every retry computes the same answer. The first 8 bytes of
SHA-256 over ``salt + ":" + id`` give a number uniform on [0, 1); it falls into the
variant whose cumulative weight first exceeds it. SHA-256 is used for its
uniformity, not its secrecy; changing the salt reshuffles every unit.
"""

import hashlib
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

_SCALE = float(1 << 64)


def bucket(salt: str, unit_id: str) -> float:
    """A number in [0, 1) fixed by the salt and the id."""
    digest = hashlib.sha256(f"{salt}:{unit_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


@dataclass(frozen=True)
class Splitter:
    """Maps ids onto variants by weight; build once per experiment, call often."""

    salt: str
    keys: tuple[str, ...]
    #: Cumulative weights, normalised so the last is exactly 1.
    bounds: tuple[float, ...]

    @classmethod
    def of(cls, salt: str, variants: Sequence[tuple[str, float]]) -> "Splitter":
        if not variants:
            raise ValueError("an experiment needs variants to assign")
        total = sum(weight for _key, weight in variants)
        bounds = [b / total for b in accumulate(weight for _key, weight in variants)]
        bounds[-1] = 1.0
        return cls(salt, tuple(key for key, _w in variants), tuple(bounds))

    def variant(self, unit_or_cluster_id: str) -> str:
        """The variant key for this unit (or cluster) id."""
        index = bisect_right(self.bounds, bucket(self.salt, unit_or_cluster_id))
        return self.keys[min(index, len(self.keys) - 1)]
