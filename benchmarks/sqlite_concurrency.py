"""Concurrent writers on the embedded SQLite database.

Several worker processes (as gunicorn would run) each perform many short
read-then-write transactions — the shape of a request that checks something and
then records it. Run once with the project's engine (write transactions begin
IMMEDIATE) and once with SQLite's default DEFERRED begin, and count the
transactions that failed with "database is locked".

    .venv/bin/python benchmarks/sqlite_concurrency.py [--workers 4] [--transactions 300]
"""

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa


def _worker(args) -> tuple[int, int, list[float], float]:
    url, mode, count, worker_id = args
    from proving_ground import create_app
    from proving_ground.audit.models import AuditEvent
    from proving_ground.db import db

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
    ok = locked = 0
    latencies = []
    began = time.perf_counter()
    with app.app_context():
        if mode == "deferred":
            # Replace the project's BEGIN IMMEDIATE with SQLite's default.
            sa.event.remove(db.engine, "begin", _find_begin_listener(db.engine))
            sa.event.listen(
                db.engine, "begin", lambda c: c.exec_driver_sql("BEGIN DEFERRED")
            )
        for i in range(count):
            start = time.perf_counter()
            try:
                db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
                db.session.add(
                    AuditEvent(action="bench.write", target=f"w{worker_id}:{i}")
                )
                db.session.commit()
                ok += 1
            except sa.exc.OperationalError as exc:
                db.session.rollback()
                if "locked" not in str(exc):
                    raise
                locked += 1
            latencies.append(time.perf_counter() - start)
        db.engine.dispose()
    return ok, locked, latencies, time.perf_counter() - began


def _find_begin_listener(engine):
    for listener in engine.dispatch.begin:
        if getattr(listener, "__name__", "") == "on_begin":
            return listener
    raise RuntimeError("the project's begin listener was not found")


def _run(mode: str, workers: int, transactions: int) -> None:
    import logging

    from flask_migrate import upgrade

    from proving_ground import create_app
    from proving_ground.db import db

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
        with app.app_context():
            upgrade()
            logging.getLogger("alembic").setLevel(logging.WARNING)
            db.engine.dispose()
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            results = pool.map(
                _worker, [(url, mode, transactions, w) for w in range(workers)]
            )
    elapsed = max(r[3] for r in results)  # the slowest worker's own wall time
    ok = sum(r[0] for r in results)
    locked = sum(r[1] for r in results)
    latencies = sorted(x for r in results for x in r[2])
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    print(
        f"{mode:>9}: {workers} workers x {transactions} transactions: "
        f"{ok} committed, {locked} failed 'database is locked'; "
        f"{ok / elapsed:,.0f} commits/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--transactions", type=int, default=300)
    args = parser.parse_args()
    for mode in ("immediate", "deferred"):
        _run(mode, args.workers, args.transactions)


if __name__ == "__main__":
    main()
