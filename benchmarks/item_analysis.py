"""Item analysis at scale: one command, prints figures.

    .venv/bin/python benchmarks/item_analysis.py [--examinees 5000] [--items 60]

Times ``psychometrics.analyse`` on a simulated complete matrix (2PL-like 0/1
scores with chosen options for distractor analysis) and the 2PL fit of
``irt.fit_2pl`` on it, then the CSV import of the
same matrix as external responses (rows per second, first import and a
re-import that replaces every score) and ``item_analysis.item_analysis`` of the
imported exam, on a fresh SQLite database (or ``--database-url``).
"""

import argparse
import csv
import io
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def simulate(examinees: int, items: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    ability = rng.normal(size=examinees)
    slope = rng.uniform(0.6, 2.0, items)
    difficulty = rng.normal(0, 1, items)
    p = 1 / (1 + np.exp(-slope * (ability[:, None] - difficulty)))
    scores = (rng.random((examinees, items)) < p).astype(float)
    wrong = rng.choice(np.array(["a", "c", "d"]), size=scores.shape)
    options = np.where(scores == 1, "b", wrong)
    columns = [f"q{j:03d}" for j in range(items)]
    index = [f"E{i:05d}" for i in range(examinees)]
    return (
        pd.DataFrame(scores, index=index, columns=columns),
        pd.DataFrame(options, index=index, columns=columns),
    )


def as_csv(scores: pd.DataFrame, options: pd.DataFrame) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["examinee", "item", "score", "max_score", "option"])
    for examinee, row in scores.iterrows():
        for item, score in row.items():
            writer.writerow([examinee, item, int(score), 1, options.at[examinee, item]])
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examinees", type=int, default=5000)
    parser.add_argument("--items", type=int, default=60)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    from assessments import item_analysis, psychometrics

    scores, options = simulate(args.examinees, args.items)
    cells = args.examinees * args.items
    print(f"matrix: {args.examinees} examinees x {args.items} items = {cells:,} cells")
    start = time.perf_counter()
    result = psychometrics.analyse(scores, dict.fromkeys(scores, 1.0), options)
    took = time.perf_counter() - start
    print(
        f"analyse (pure, with distractors): {took * 1000:.0f} ms; "
        f"alpha {result.test.alpha:.4f}"
    )

    from assessments import irt

    start = time.perf_counter()
    fit = irt.fit_2pl(scores, dict.fromkeys(scores, 1.0))
    took = time.perf_counter() - start
    print(
        f"2PL fit (marginal ML, {fit.quadrature_points} nodes, with SEs and EAP): "
        f"{took:.2f} s; {fit.iterations} iterations, converged {fit.converged}"
    )

    from flask_migrate import upgrade

    from proving_ground import create_app
    from proving_ground.db import db

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
        with app.app_context():
            upgrade(directory=str(Path(__file__).parents[1] / "migrations"))
            exam = item_analysis.create_exam_api(
                {"key": "bench-external", "title": "Benchmark", "external": True},
                actor=None,
            )
            body = as_csv(scores, options)
            for label in ("import", "re-import (replaces)"):
                start = time.perf_counter()
                report = item_analysis.import_responses(exam, body, actor=None)
                db.session.commit()
                took = time.perf_counter() - start
                print(
                    f"CSV {label}: {report.accepted:,} rows in {took:.2f} s = "
                    f"{report.accepted / took:,.0f} rows/s, "
                    f"{len(report.errors)} errors"
                )
            start = time.perf_counter()
            analysis = item_analysis.item_analysis(exam)
            took = time.perf_counter() - start
            print(
                f"item_analysis from the database: {took:.2f} s "
                f"(n {analysis['test']['n']}, alpha {analysis['test']['alpha']:.4f})"
            )


if __name__ == "__main__":
    main()
