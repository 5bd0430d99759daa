"""The database: Flask-SQLAlchemy with a typed declarative base, SQLite tuning and
the request's unit of work.

Services ``flush()``; the request boundary commits once when the response is a
success (status < 400) and rolls back otherwise. CLI commands commit per batch.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, has_request_context, request
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

#: Constraint names Alembic can rely on, identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite keeps no zone, so values are normalised to UTC on the way in and
    marked UTC on the way out; PostgreSQL stores ``timestamptz``.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def local_day(column: sa.ColumnElement) -> sa.ColumnElement[str]:
    """``YYYY-MM-DD`` of a UTC timestamp column in the display time zone
    (``BABEL_DEFAULT_TIMEZONE``), computed by the database.

    PostgreSQL converts with the zone's rules; SQLite knows no zones, so the zone's
    current offset is applied (exact for zones without daylight saving, such as
    Asia/Shanghai).
    """
    zone_name = current_app.config["BABEL_DEFAULT_TIMEZONE"]
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone(zone_name, column), "YYYY-MM-DD")
    offset = datetime.now(ZoneInfo(zone_name)).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    return sa.func.date(column, f"{minutes:+d} minutes")


# --- SQLite: WAL, foreign keys, busy timeout, IMMEDIATE write transactions ---------

_write_intent: ContextVar[bool | None] = ContextVar("write_intent", default=None)


@contextmanager
def write_intent() -> Iterator[None]:
    """Make transactions begun inside this block take SQLite's write lock at once."""
    token = _write_intent.set(True)
    try:
        yield
    finally:
        _write_intent.reset(token)


def commit_refusal() -> None:
    """Commit this request's changes even though it answers with an error: for
    refusals whose side effect must stand (an answer arriving after the deadline
    is refused, and the attempt it was for is submitted with what was saved)."""
    if has_request_context():
        g.commit_refusal = True


def writes_on_read(view: Callable) -> Callable:
    """Mark a GET view that may write (a cache or rollup refresh, an overdue attempt
    submitted, a view counted). Its transaction begins as an unsafe request's does
    (IMMEDIATE on SQLite): a deferred read snapshot that later writes fails with
    "database is locked" as soon as anyone else committed in between."""
    view.writes_on_read = True
    return view


def request_writes() -> bool:
    """Whether the current request's transaction takes the write lock at once:
    unsafe methods, and views marked :func:`writes_on_read`."""
    if request.method not in SAFE_METHODS:
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    if view_class is not None:  # a MethodView: the method's own marker
        view = getattr(view_class, request.method.lower(), None)
    return bool(getattr(view, "writes_on_read", False))


def _begins_immediate() -> bool:
    """Whether a new SQLite transaction should be ``BEGIN IMMEDIATE``.

    A deferred transaction that later writes must upgrade its lock, and that upgrade
    fails at once with "database is locked" instead of waiting out the busy
    timeout. Requests with unsafe methods or views marked :func:`writes_on_read`,
    CLI commands and explicit :func:`write_intent` blocks therefore begin
    IMMEDIATE; other safe requests read in deferred (WAL snapshot) transactions
    that never block writers.
    """
    forced = _write_intent.get()
    if forced is not None:
        return forced
    if has_request_context():
        return request_writes()
    return True


def _configure_sqlite(engine: sa.Engine, busy_timeout_ms: int) -> None:
    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def on_begin(connection):
        mode = "IMMEDIATE" if _begins_immediate() else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")


def init_app(app: Flask) -> None:
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        options = app.config["SQLALCHEMY_ENGINE_OPTIONS"] = dict(
            app.config["SQLALCHEMY_ENGINE_OPTIONS"]
        )
        options.setdefault("pool_pre_ping", True)
        options.setdefault("connect_args", {"connect_timeout": 10})
    db.init_app(app)
    migrate.init_app(
        app, db, directory=app.config["MIGRATIONS_DIRECTORY"], render_as_batch=True
    )
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            _configure_sqlite(engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])

    @app.after_request
    def commit_unit_of_work(response: Response) -> Response:
        if response.status_code < 400 or g.pop("commit_refusal", False):
            db.session.commit()
        else:
            db.session.rollback()
        return response
