"""Pieces shared by the benchmark scripts (run them from the repository root;
Python puts this folder on the path)."""

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from proving_ground.config import normalise_database_url


class Progress:
    """Prints a line to stderr at every fifth of the work."""

    def __init__(self, label: str, total: int):
        self.label, self.total, self.fifths = label, total, 1

    def __call__(self, done: int) -> None:
        if done * 5 >= self.total * self.fifths:
            print(f"  {self.label}: {done:,} of {self.total:,}", file=sys.stderr)
            self.fifths = done * 5 // self.total + 1


@contextmanager
def scratch_postgres(server_url: str, prefix: str) -> Iterator[str]:
    """A fresh database on the server of ``server_url``, dropped afterwards."""
    base = sa.make_url(normalise_database_url(server_url))
    name = f"{prefix}_{os.getpid()}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    with admin.connect() as conn:
        conn.exec_driver_sql(drop)
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(drop)
        admin.dispose()
