"""Event ingestion throughput: batches through the HTTP API against a plain DB-API
``executemany`` of the same rows.

    .venv/bin/python benchmarks/ingest.py [--events 200000] [--database-url URL]
        [--postgres URL] [--profile 25]

Without ``--database-url`` it runs on SQLite in a temporary directory and, when
``--postgres`` or ``TEST_DATABASE_URL`` names a PostgreSQL server, on PostgreSQL
too: a scratch database is created on that server and dropped at the end. With
``--database-url`` it runs on that database alone, which must be empty (it is
migrated and filled, and left so).

For each database:

* API: the app (in process, test client, no network) receives batches of 1,000
  events on ``POST /api/v1/events`` with a write key. The JSON bodies are built
  before the clock starts: serialising is the client's work.
* raw: the same rows, already converted, go through the driver's
  ``executemany`` into a fresh table with a UNIQUE index on ``event_id`` alone,
  committing every 1,000 rows: the floor of what the database costs.
* raw, project key: the same into a table unique on (occurred_at, event_id), the
  key the project uses, to show what a time-ordered dedup key saves.

``--profile N`` runs the API phase under cProfile and prints the N functions with
the largest cumulative time.
"""

import argparse
import cProfile
import json
import os
import pstats
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from common import Progress, scratch_postgres

BATCH = 1000
SEED = 20261127
LEADS = 20_000
REPS = 60
BEIJING = timezone(timedelta(hours=8))
#: Event type → share of the stream.
TYPES = {
    "call": 0.33,
    "email": 0.20,
    "wechat": 0.15,
    "ai_suggestion_shown": 0.12,
    "ai_suggestion_accepted": 0.06,
    "visit": 0.06,
    "demo": 0.04,
    "deal_won": 0.025,
    "discount": 0.015,
}
TARGET_SHARE_OF_RAW = 0.40
TARGET_SQLITE_EVENTS_PER_S = 30_000

COLUMNS = (
    "event_id",
    "type",
    "unit_id",
    "rep_id",
    "customer_id",
    "value",
    "occurred_at",
    "received_at",
    "properties",
    "experiment_key",
    "variant_key",
    "source",
)
SQLITE_TABLE = """
CREATE TABLE {name} (
    id INTEGER PRIMARY KEY,
    event_id VARCHAR(128) NOT NULL,
    type VARCHAR(64) NOT NULL,
    unit_id VARCHAR(128) NOT NULL,
    rep_id VARCHAR(128),
    customer_id VARCHAR(128),
    value FLOAT,
    occurred_at DATETIME NOT NULL,
    received_at DATETIME NOT NULL,
    properties JSON,
    experiment_key VARCHAR(64),
    variant_key VARCHAR(64),
    source VARCHAR(8) NOT NULL,
    UNIQUE ({unique})
)
"""
POSTGRES_TABLE = """
CREATE TABLE {name} (
    id BIGSERIAL PRIMARY KEY,
    event_id VARCHAR(128) NOT NULL,
    type VARCHAR(64) NOT NULL,
    unit_id VARCHAR(128) NOT NULL,
    rep_id VARCHAR(128),
    customer_id VARCHAR(128),
    value DOUBLE PRECISION,
    occurred_at TIMESTAMP WITH TIME ZONE NOT NULL,
    received_at TIMESTAMP WITH TIME ZONE NOT NULL,
    properties JSON,
    experiment_key VARCHAR(64),
    variant_key VARCHAR(64),
    source VARCHAR(8) NOT NULL,
    UNIQUE ({unique})
)
"""
#: (label, table name, unique columns) of the raw runs.
RAW_TABLES = (
    ("raw executemany", "raw_event_id", "event_id"),
    ("raw executemany, project key", "raw_time_key", "occurred_at, event_id"),
)


def make_events(count: int, now: datetime) -> list[dict[str, Any]]:
    """``count`` API-shaped events as a live stream sends them: random uuid4 ids,
    times rising over the last hour (a few seconds out of order), Beijing time."""
    rng = random.Random(SEED)
    types, weights = list(TYPES), list(TYPES.values())
    start = now - timedelta(hours=1)
    step = timedelta(minutes=55) / count
    events = []
    for index, kind in enumerate(rng.choices(types, weights, k=count)):
        lead = rng.randrange(LEADS)
        occurred = start + step * index - timedelta(seconds=5 * rng.random())
        event: dict[str, Any] = {
            "event_id": uuid.UUID(int=rng.getrandbits(128), version=4).hex,
            "type": kind,
            "unit_id": f"lead-{lead:06d}",
            "rep_id": f"rep-{lead % REPS + 1:02d}",
            "customer_id": f"cust-{lead // 3:05d}",
            "occurred_at": occurred.astimezone(BEIJING).isoformat(
                timespec="milliseconds"
            ),
        }
        if kind == "deal_won":
            event["value"] = round(rng.lognormvariate(11.3, 0.8), -2)
            event["properties"] = {"currency": "CNY"}
        elif kind == "discount":
            event["value"] = round(rng.uniform(500, 12_000), -1)
        elif kind == "call":
            event["properties"] = {"duration_min": rng.randint(1, 40)}
        elif kind.startswith("ai_suggestion"):
            event["properties"] = {"suggestion_id": f"s-{rng.getrandbits(32):08x}"}
        events.append(event)
    return events


def raw_rows(events: list[dict[str, Any]], sqlite: bool) -> list[tuple]:
    """The rows the API would store, as driver parameters: UTC times (naive text
    for SQLite, as SQLAlchemy stores them), properties as JSON text."""
    received = datetime.now(UTC)
    rows = []
    for event in events:
        occurred = datetime.fromisoformat(event["occurred_at"]).astimezone(UTC)
        times = (occurred, received)
        if sqlite:
            times = tuple(t.replace(tzinfo=None).isoformat(" ") for t in times)
        properties = event.get("properties")
        rows.append(
            (
                event["event_id"],
                event["type"],
                event["unit_id"],
                event.get("rep_id"),
                event.get("customer_id"),
                event.get("value"),
                *times,
                json.dumps(properties) if properties is not None else None,
                None,
                None,
                "api",
            )
        )
    return rows


def bench_api(
    url: str, events: list[dict[str, Any]], instance: str, profile: int
) -> float:
    """Migrate the database at ``url``, then POST the events in batches with a
    write key; returns events per second over the requests alone."""
    from flask_migrate import upgrade

    from proving_ground import create_app
    from proving_ground.auth.services import create_token
    from proving_ground.db import db

    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "INSTANCE_PATH": instance,
            "EVENTS_RATE_LIMIT": "1000000 per minute",
        }
    )
    with app.app_context():
        upgrade()
        _token, secret = create_token(None, "bench", kind="ingest")
        db.session.commit()
    bodies = [
        json.dumps({"events": events[i : i + BATCH]}, ensure_ascii=False).encode()
        for i in range(0, len(events), BATCH)
    ]
    headers = {"Authorization": f"Bearer {secret}"}
    client = app.test_client()
    progress = Progress("API", len(events))
    profiler = cProfile.Profile() if profile else None

    def post_all() -> None:
        done = 0
        for body in bodies:
            response = client.post(
                "/api/v1/events",
                data=body,
                headers=headers,
                content_type="application/json",
            )
            assert response.status_code == 200, response.get_data(as_text=True)
            result = response.get_json()
            assert result["accepted"] == BATCH, result
            done += result["accepted"]
            progress(done)

    start = time.perf_counter()
    if profiler:
        profiler.runcall(post_all)
    else:
        post_all()
    elapsed = time.perf_counter() - start
    with app.app_context():
        stored = db.session.scalar(sa.text("SELECT count(*) FROM events"))
        db.engine.dispose()
    assert stored == len(events), (stored, len(events))
    if profiler:
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.strip_dirs().sort_stats("cumulative").print_stats(profile)
    return len(events) / elapsed


def _timed_executemany(
    execute_chunk: Callable[[list[tuple]], None], rows: list[tuple], label: str
) -> float:
    """Run ``execute_chunk`` over chunks of 1,000 rows; returns rows per second."""
    progress = Progress(label, len(rows))
    start = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        execute_chunk(rows[i : i + BATCH])
        progress(min(i + BATCH, len(rows)))
    return len(rows) / (time.perf_counter() - start)


def bench_raw_sqlite(directory: Path, rows: list[tuple], table: str, unique: str):
    """executemany into a fresh SQLite file (WAL, synchronous=NORMAL, as the app
    sets them), committing every 1,000 rows; returns rows per second."""
    path = directory / f"{table}.db"
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(SQLITE_TABLE.format(name=table, unique=unique))
    conn.commit()
    insert = (
        f"INSERT INTO {table} ({', '.join(COLUMNS)}) "  # noqa: S608 (fixed names)
        f"VALUES ({', '.join('?' * len(COLUMNS))})"
    )

    def chunk(batch: list[tuple]) -> None:
        conn.executemany(insert, batch)
        conn.commit()

    try:
        return _timed_executemany(chunk, rows, table)
    finally:
        conn.close()


def bench_raw_postgres(url: str, rows: list[tuple], table: str, unique: str):
    """executemany with psycopg into a fresh table, committing every 1,000 rows;
    returns rows per second."""
    import psycopg

    conninfo = sa.make_url(url).set(drivername="postgresql")
    with psycopg.connect(conninfo.render_as_string(hide_password=False)) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(POSTGRES_TABLE.format(name=table, unique=unique))
        conn.commit()
        insert = (
            f"INSERT INTO {table} ({', '.join(COLUMNS)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(COLUMNS))})"
        )

        def chunk(batch: list[tuple]) -> None:
            with conn.cursor() as cursor:
                cursor.executemany(insert, batch)
            conn.commit()

        try:
            return _timed_executemany(chunk, rows, table)
        finally:
            conn.execute(f"DROP TABLE {table}")
            conn.commit()


def run(url: str, count: int, directory: Path, profile: int) -> None:
    """Benchmark one database and print its lines."""
    from proving_ground.config import normalise_database_url

    url = normalise_database_url(url)
    backend = sa.make_url(url).get_backend_name()
    print(f"{backend}: {count:,} events in batches of {BATCH:,}", file=sys.stderr)
    events = make_events(count, datetime.now(UTC))
    api = bench_api(url, events, str(directory), profile)
    rows = raw_rows(events, sqlite=backend == "sqlite")
    raw = {}
    for label, table, unique in RAW_TABLES:
        if backend == "sqlite":
            raw[label] = bench_raw_sqlite(directory, rows, table, unique)
        else:
            raw[label] = bench_raw_postgres(url, rows, table, unique)
    first, second = (label for label, _table, _unique in RAW_TABLES)
    print(
        f"{backend:<11} API {api:>8,.0f} events/s   {first} {raw[first]:>8,.0f} "
        f"rows/s   ratio {api / raw[first]:.2f}"
    )
    print(
        f"{'':<11} {second} (occurred_at, event_id) {raw[second]:>8,.0f} rows/s   "
        f"ratio API/this {api / raw[second]:.2f}"
    )
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--database-url", help="Run on this (empty) database alone.")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TEST_DATABASE_URL") or None,
        help="A PostgreSQL server URL (default: TEST_DATABASE_URL) on which to "
        "create a scratch database, besides SQLite.",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="Profile the API phase and print the top N functions to stderr.",
    )
    args = parser.parse_args()
    if args.events < BATCH or args.events % BATCH:
        parser.error(f"--events must be a multiple of {BATCH:,}")

    print(
        f"targets: API >= {TARGET_SHARE_OF_RAW:.0%} of raw executemany "
        f"(ratio >= {TARGET_SHARE_OF_RAW:.2f}), >= {TARGET_SQLITE_EVENTS_PER_S:,} "
        "events/s on SQLite"
    )
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        if args.database_url:
            run(args.database_url, args.events, directory, args.profile)
            return
        run(f"sqlite:///{directory / 'api.db'}", args.events, directory, args.profile)
        if args.postgres:
            with scratch_postgres(args.postgres, "bench_ingest") as url:
                run(url, args.events, directory, args.profile)
        else:
            print("postgresql  skipped: give --postgres URL or set TEST_DATABASE_URL")


if __name__ == "__main__":
    main()
