"""Speed, balance and determinism of variant assignment (pure, in process).

    .venv/bin/python benchmarks/assignment.py [--units 1000000] [--weights 0.5,0.5]

Times ``experiments.assignment.Splitter.variant`` over distinct unit ids (built
before the clock starts), compares each variant's share with its weight by a
chi-square goodness-of-fit test, and checks that the same ids get the same
variants twice and from a second Splitter built from the same salt and weights.
"""

import argparse
import time

from scipy.stats import chisquare

from experiments.assignment import Splitter

TARGET_PER_S = 100_000
SALT = "3f9a1c7e5b2d4086"
#: Below this p-value the split is reported as unbalanced.
BALANCE_ALPHA = 0.001


def assign_all(splitter, unit_ids: list[str]) -> tuple[list[str], float]:
    """Every unit's variant and the seconds it took."""
    variant = splitter.variant
    start = time.perf_counter()
    variants = [variant(unit_id) for unit_id in unit_ids]
    return variants, time.perf_counter() - start


def balance(variants: list[str], weights: dict[str, float]) -> tuple[dict, float]:
    """Units per variant and the chi-square goodness-of-fit p-value against the
    counts the weights predict."""
    counts = dict.fromkeys(weights, 0)
    for key in variants:
        counts[key] += 1
    total = len(variants)
    expected = [total * weight for weight in weights.values()]
    return counts, float(chisquare(list(counts.values()), expected).pvalue)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument(
        "--weights",
        default="0.5,0.5",
        help="Comma-separated variant weights summing to 1 (first is control).",
    )
    args = parser.parse_args()

    shares = [float(w) for w in args.weights.split(",")]
    weights = {
        ("control" if i == 0 else f"treatment_{i}"): w for i, w in enumerate(shares)
    }
    splitter = Splitter.of(SALT, list(weights.items()))
    unit_ids = [f"lead-{i:07d}" for i in range(args.units)]

    variants, seconds = assign_all(splitter, unit_ids)
    rate = len(unit_ids) / seconds
    verdict = "ok" if rate >= TARGET_PER_S else "BELOW TARGET"
    print(
        f"speed: {len(unit_ids):,} distinct ids in {seconds:.2f} s = "
        f"{rate:,.0f} assignments/s (target >= {TARGET_PER_S:,}/s: {verdict})"
    )

    counts, p_value = balance(variants, weights)
    for key, weight in weights.items():
        share = counts[key] / len(variants)
        print(
            f"  {key:<12} weight {weight:.4f}  share {share:.4f}  "
            f"({counts[key]:,} units, {share - weight:+.4f})"
        )
    verdict = "balanced" if p_value >= BALANCE_ALPHA else "UNBALANCED"
    print(f"balance: chi-square goodness of fit p = {p_value:.4f} ({verdict})")

    again, _seconds = assign_all(splitter, unit_ids)
    twin = Splitter.of(SALT, list(weights.items()))
    from_twin, _seconds = assign_all(twin, unit_ids)
    same_twice = again == variants
    same_twin = from_twin == variants
    print(
        f"determinism: same variants twice: {'yes' if same_twice else 'NO'}; "
        f"from a second Splitter of the same salt and weights: "
        f"{'yes' if same_twin else 'NO'}"
    )
    if not (same_twice and same_twin) or p_value < BALANCE_ALPHA:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
