import stat

import pytest
import sqlalchemy as sa

from proving_ground import create_app
from proving_ground.config import normalise_database_url
from proving_ground.db import db


def test_precedence_defaults_then_environment_then_mapping(monkeypatch, tmp_path):
    monkeypatch.setenv("PG_SESSION_IDLE_MINUTES", "15")
    monkeypatch.setenv("PG_API_PER_PAGE_MAX", "100")
    monkeypatch.setenv("SECRET_KEY", "from-environment")
    app = create_app({"INSTANCE_PATH": str(tmp_path), "API_PER_PAGE_MAX": 70})
    assert app.config["SESSION_ABSOLUTE_HOURS"] == 12  # default
    assert app.config["SESSION_IDLE_MINUTES"] == 15  # environment, parsed as JSON
    assert app.config["API_PER_PAGE_MAX"] == 70  # mapping beats environment
    assert app.config["SECRET_KEY"] == "from-environment"


def test_database_url_from_environment_and_default(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert (
        app.config["SQLALCHEMY_DATABASE_URI"]
        == f"sqlite:///{tmp_path}/proving_ground.db"
    )
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/other.db")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("other.db")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_url_uses_psycopg3(given, expected):
    assert normalise_database_url(given) == expected


def test_secret_key_generated_once_and_kept(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("PG_SECRET_KEY", raising=False)
    first = create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    second = create_app({"INSTANCE_PATH": str(tmp_path)}).config["SECRET_KEY"]
    assert first == second
    assert len(first) == 64
    key_file = tmp_path / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    other = create_app({"INSTANCE_PATH": str(tmp_path / "elsewhere")}).config[
        "SECRET_KEY"
    ]
    assert other != first


def test_cookies_secure_outside_development(tmp_path):
    assert create_app({"INSTANCE_PATH": str(tmp_path)}).config["SESSION_COOKIE_SECURE"]
    dev = create_app({"INSTANCE_PATH": str(tmp_path), "DEVELOPMENT": True})
    assert not dev.config["SESSION_COOKIE_SECURE"]
    assert dev.config["SESSION_COOKIE_HTTPONLY"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_connection_pragmas(make_app):
    app = make_app(SQLITE_BUSY_TIMEOUT_MS=4321)
    with app.app_context(), db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 4321


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_write_transactions_begin_immediate(make_app):
    """A writer holds the write lock from BEGIN, so a second writer waits its turn."""
    app = make_app(SQLITE_BUSY_TIMEOUT_MS=100)
    with app.app_context(), db.engine.connect() as first:
        first.execute(sa.text("SELECT 1"))  # CLI context: begins IMMEDIATE
        with db.engine.connect() as second, pytest.raises(sa.exc.OperationalError):
            second.execute(sa.text("SELECT 1"))  # cannot get the write lock
    with app.test_request_context("/", method="GET"), db.engine.connect() as reader:
        reader.execute(sa.text("SELECT 1"))  # GET: deferred, takes no write lock
        with app.test_request_context("/", method="POST"), db.engine.connect() as w:
            w.execute(sa.text("SELECT 1"))  # a writer is not blocked by the reader
