"""Configuration: defaults, then the environment, then the mapping given to create_app.

Settings come from environment variables prefixed ``PG_`` (values are parsed as JSON
when they can be, so ``PG_SESSION_IDLE_MINUTES=30`` is an int). Two unprefixed
variables are honoured because every platform sets them: ``DATABASE_URL`` and
``SECRET_KEY``.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask

ENV_PREFIX = "PG"

#: The repository root in a checkout (``pip install -e .``).
SOURCE_ROOT = Path(__file__).resolve().parents[2]


class Defaults:
    """Every setting the app reads, with its default. The README lists them all."""

    #: True for a local developer machine: plain-HTTP cookies, verbose errors.
    DEVELOPMENT = False
    SQLALCHEMY_DATABASE_URI = None  # default: instance/proving_ground.db
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SQLITE_BUSY_TIMEOUT_MS = 15_000
    MIGRATIONS_DIRECTORY = str(SOURCE_ROOT / "migrations")

    SESSION_COOKIE_NAME = "pg_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    SESSION_IDLE_MINUTES = 60
    SESSION_ABSOLUTE_HOURS = 12
    #: werkzeug's generate_password_hash method; tests pass a cheaper one.
    PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105 (an algorithm name)
    PASSWORD_MIN_LENGTH = 12
    PASSWORD_MAX_LENGTH = 128

    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    #: Failed sign-ins allowed per e-mail address and client address.
    LOGIN_RATE_LIMIT = "5 per 15 minutes"
    #: Failed sign-ins allowed per client address, whatever the e-mail.
    LOGIN_RATE_LIMIT_PER_ADDRESS = "30 per hour"

    #: Number of proxies in front of the app setting X-Forwarded-For/-Proto.
    PROXY_FIX_X_FOR = 0
    PROXY_FIX_X_PROTO = 0

    LANGUAGES = ("zh_CN", "en")
    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    BABEL_TRANSLATION_DIRECTORIES = str(Path(__file__).parent / "translations")

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    WTF_CSRF_CHECK_DEFAULT = False  # checked by the access guard, see access.py

    API_TITLE = "Proving Ground API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    API_PER_PAGE_DEFAULT = 50
    API_PER_PAGE_MAX = 200

    #: Events stamped further ahead than this are refused (clock skew allowance).
    EVENTS_MAX_FUTURE_MINUTES = 60
    EVENTS_MAX_PROPERTIES_BYTES = 4096
    #: Requests per write key (each up to 1,000 events).
    EVENTS_RATE_LIMIT = "600 per minute"
    #: Uploads (CSV imports) larger than this are refused with 413.
    MAX_CONTENT_LENGTH = 32 * 1024 * 1024

    #: Shared by the demo users that `demo load` creates on a local machine.
    DEMO_PASSWORD = "proving-ground-demo-2026"  # noqa: S105 (demo data only)


def load_config(app: Flask, overrides: dict | None) -> None:
    """Fill ``app.config``: defaults, then environment, then ``overrides``."""
    app.config.from_object(Defaults)
    if os.environ.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if os.environ.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
    app.config.from_prefixed_env(ENV_PREFIX)
    overrides = dict(overrides or {})
    if "DATABASE_URL" in overrides:
        overrides["SQLALCHEMY_DATABASE_URI"] = overrides.pop("DATABASE_URL")
    app.config.update(overrides)

    if app.config["DEVELOPMENT"]:
        app.config["SESSION_COOKIE_SECURE"] = overrides.get(
            "SESSION_COOKIE_SECURE", False
        )
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"]
        or f"sqlite:///{Path(app.instance_path) / 'proving_ground.db'}"
    )
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret_key(Path(app.instance_path))
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
        hours=app.config["SESSION_ABSOLUTE_HOURS"]
    )


def normalise_database_url(url: str) -> str:
    """Map ``postgres://`` and ``postgresql://`` URLs to the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _instance_secret_key(instance: Path) -> str:
    """Read the secret key kept in the instance folder, creating it on first use."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker created it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
