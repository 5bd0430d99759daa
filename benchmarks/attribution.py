"""Attribution statistics at scale, without a database.

    .venv/bin/python benchmarks/attribution.py [--paths 200000] [--units 50000]
        [--reps 40] [--customers 5000] [--repeat 3] [--statsmodels]

Figures (best of ``--repeat`` runs, seconds):

* touchpoints: Markov removal effects and Shapley values
  (``experiments.stats.attribution.attribute``) over ``--paths`` seeded paths of
  1–6 touches over 8 touchpoint types, about 9 % converting; then all six
  methods together. Target: Markov + Shapley < 5 s.
* mixed model: ``multilevel.cells_from_units`` (the reduction the SQL will do)
  and ``multilevel.variance_decomposition`` over ``--units`` units, ``--reps``
  reps and ``--customers`` customers nested in them, and ``shrink_effects`` over
  the reps. Target: < 20 s.

With ``--statsmodels`` it also fits the same model with statsmodels' MixedLM
(dense per-rep algebra; minutes at the default size) and prints both estimates.
"""

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from experiments.stats import SampleStats
from experiments.stats.attribution import Path, attribute
from experiments.stats.multilevel import (
    cells_from_units,
    shrink_effects,
    variance_decomposition,
)

SEED = 20261127
TYPES = (
    "call",
    "visit",
    "demo",
    "email",
    "wechat",
    "proposal",
    "ai_suggestion_taken",
    "ai_suggestion_ignored",
)
TARGET_TOUCHPOINTS_S = 5.0
TARGET_MIXED_S = 20.0


def best_of(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs, seconds, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def make_paths(count: int) -> list[Path]:
    """Seeded paths; a demo or a second visit raises the conversion rate."""
    rng = np.random.default_rng(SEED)
    lengths = rng.integers(1, 7, count)
    kinds = rng.integers(0, len(TYPES), lengths.sum())
    ages = rng.exponential(4.0, lengths.sum())
    paths, at = [], 0
    for length in lengths:
        touches = tuple(TYPES[k] for k in kinds[at : at + length])
        touch_ages = tuple(
            sorted((float(a) for a in ages[at : at + length]), reverse=True)
        )
        at += length
        rate = 0.06 + 0.08 * ("demo" in touches) + 0.06 * (touches.count("visit") > 1)
        paths.append(Path(touches, bool(rng.random() < rate), touch_ages))
    return paths


def make_units(units: int, reps: int, customers: int):
    rng = np.random.default_rng(SEED)
    rep_of_customer = rng.integers(0, reps, customers)
    customer = rng.integers(0, customers, units)
    rep = rep_of_customer[customer]
    treated = rng.integers(0, 2, units)
    rep_lift = 0.3 + rng.normal(0, 0.15, reps)
    y = (
        rep_lift[rep] * treated
        + rng.normal(0, 1.0, reps)[rep]
        + rng.normal(0, 0.7, customers)[customer]
        + rng.normal(0, 1.5, units)
    )
    variant = np.where(treated == 1, "new_script", "control")
    return y, variant, rep, customer, treated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=200_000)
    parser.add_argument("--units", type=int, default=50_000)
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--statsmodels", action="store_true")
    args = parser.parse_args()

    paths = make_paths(args.paths)
    converting = sum(p.converted for p in paths)
    distinct = len({(p.touches, p.converted) for p in paths})
    print(
        f"touchpoints: {args.paths:,} paths ({converting:,} converting, "
        f"{distinct:,} distinct sequences), {len(TYPES)} types"
    )
    data_driven, _ = best_of(
        args.repeat, lambda: attribute(paths, methods=("markov", "shapley"))
    )
    verdict = "ok" if data_driven < TARGET_TOUCHPOINTS_S else "OVER TARGET"
    print(
        f"  markov + shapley    {data_driven:7.3f} s  "
        f"(target < {TARGET_TOUCHPOINTS_S:.0f} s: {verdict})"
    )
    every, result_all = best_of(args.repeat, lambda: attribute(paths))
    print(f"  all six methods     {every:7.3f} s")
    for method, outcome in result_all.methods.items():
        top = sorted(outcome.shares.items(), key=lambda kv: -kv[1])[:3]
        print(f"    {method:<12} " + ", ".join(f"{k} {v:.3f}" for k, v in top))

    y, variant, rep, customer, treated = make_units(
        args.units, args.reps, args.customers
    )
    print(
        f"mixed model: {args.units:,} units, {args.reps} reps, "
        f"{args.customers:,} customers"
    )
    reduce_s, cells = best_of(
        args.repeat, lambda: cells_from_units(y, variant, rep, customer)
    )
    fit_s, fit = best_of(args.repeat, lambda: variance_decomposition(cells, "control"))

    def per_rep():
        groups = {}
        for r in range(args.reps):
            mask = rep == r
            groups[str(r)] = (
                SampleStats.from_values(y[mask & (treated == 0)]),
                SampleStats.from_values(y[mask & (treated == 1)]),
            )
        return shrink_effects(groups)

    shrink_s, shrunk = best_of(args.repeat, per_rep)
    total = reduce_s + fit_s + shrink_s
    verdict = "ok" if total < TARGET_MIXED_S else "OVER TARGET"
    print(f"  cells from units    {reduce_s:7.3f} s  ({len(cells):,} cells)")
    print(f"  REML fit            {fit_s:7.3f} s")
    print(f"  per-rep shrinkage   {shrink_s:7.3f} s")
    print(
        f"  total               {total:7.3f} s  "
        f"(target < {TARGET_MIXED_S:.0f} s: {verdict})"
    )
    effect = fit.treatment_effects["new_script"]
    print(
        f"    lift {effect.estimate:.4f} [{effect.ci_low:.4f}, {effect.ci_high:.4f}]; "
        "variance "
        + ", ".join(f"{k} {v:.4f}" for k, v in fit.components.items())
        + f"; tau² {shrunk.tau2:.4f} (true 0.0225)"
    )

    if args.statsmodels:
        import pandas as pd
        from statsmodels.regression.mixed_linear_model import MixedLM

        frame = pd.DataFrame({"y": y, "t": treated, "rep": rep, "customer": customer})
        start = time.perf_counter()
        model = MixedLM.from_formula(
            "y ~ t",
            groups="rep",
            re_formula="1",
            vc_formula={"customer": "0 + C(customer)"},
            data=frame,
        )
        reference = model.fit(reml=True)
        elapsed = time.perf_counter() - start
        lift, rep_var = reference.fe_params["t"], reference.cov_re.iloc[0, 0]
        print(
            f"  statsmodels MixedLM {elapsed:7.3f} s: lift {lift:.4f}, "
            f"rep {rep_var:.4f}, customer {reference.vcomp[0]:.4f}, "
            f"interaction {reference.scale:.4f}; REML log-likelihood "
            f"{reference.llf:.6f} vs ours {fit.log_likelihood:.6f}"
        )


if __name__ == "__main__":
    main()
