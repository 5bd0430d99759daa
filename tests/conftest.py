"""Fixtures: an app on a fresh database per test, on SQLite always and on PostgreSQL
when ``TEST_DATABASE_URL`` is set.

Each backend gets a template database migrated once per session with the real
Alembic migrations; every test then gets its own copy (a file copy on SQLite,
``CREATE DATABASE … TEMPLATE`` on PostgreSQL), so tests never see each other's rows.
"""

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from support import PASSWORD, login

from proving_ground import create_app
from proving_ground.auth import services as auth_services
from proving_ground.auth.models import User
from proving_ground.config import normalise_database_url
from proving_ground.db import db

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", *(["postgresql"] if TEST_DATABASE_URL else [])]

BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key",
    # Real scrypt costs ~50 ms a hash; the policy is the same, only slower.
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    "SESSION_COOKIE_SECURE": False,
    "RATELIMIT_STORAGE_URI": "memory://",
}


def pytest_report_header(config) -> str:
    if not TEST_DATABASE_URL:
        return "PostgreSQL run skipped: TEST_DATABASE_URL is not set (SQLite only)."
    return f"PostgreSQL run: {sa.make_url(_pg_url()).render_as_string()}"


def pytest_sessionstart(session) -> None:
    """Fail loudly, before any test, when PostgreSQL is asked for but unreachable."""
    if not TEST_DATABASE_URL:
        return
    engine = sa.create_engine(_pg_url(), connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        pytest.exit(
            f"TEST_DATABASE_URL is set but PostgreSQL is unreachable: {exc}",
            returncode=3,
        )
    finally:
        engine.dispose()


def _pg_url() -> str:
    return normalise_database_url(TEST_DATABASE_URL)


class _Templates:
    """Template databases, built on first use and dropped at the end."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.sqlite_template: Path | None = None
        self.pg_template: str | None = None
        self.counter = itertools.count()
        self.admin: sa.Engine | None = None

    def _migrate(self, url: str) -> None:
        app = create_app(
            {**BASE_CONFIG, "DATABASE_URL": url, "INSTANCE_PATH": str(self.tmp)}
        )
        with app.app_context():
            upgrade()
            db.engine.dispose()

    def sqlite_copy(self) -> str:
        if self.sqlite_template is None:
            self.sqlite_template = self.tmp / "template.db"
            self._migrate(f"sqlite:///{self.sqlite_template}")
        path = self.tmp / f"test-{next(self.counter)}.db"
        shutil.copyfile(self.sqlite_template, path)
        return f"sqlite:///{path}"

    def pg_admin(self) -> sa.Engine:
        if self.admin is None:
            self.admin = sa.create_engine(_pg_url(), isolation_level="AUTOCOMMIT")
        return self.admin

    def pg_copy(self) -> tuple[str, str]:
        base = sa.make_url(_pg_url())
        prefix = f"pgtest_{os.getpid()}"
        if self.pg_template is None:
            self.pg_template = f"{prefix}_template"
            self.create_pg_database(self.pg_template)
            self._migrate(base.set(database=self.pg_template).render_as_string(False))
        name = f"{prefix}_{next(self.counter)}"
        self.create_pg_database(name, template=self.pg_template)
        return base.set(database=name).render_as_string(hide_password=False), name

    def create_pg_database(self, name: str, template: str | None = None) -> None:
        with self.pg_admin().connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            suffix = f' TEMPLATE "{template}"' if template else ""
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"{suffix}')

    def drop_pg_database(self, name: str) -> None:
        with self.pg_admin().connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self.pg_template:
            self.drop_pg_database(self.pg_template)
        if self.admin is not None:
            self.admin.dispose()


class EnglishClient(FlaskClient):
    """A test client whose browser asks for English, so assertions can read
    English messages; tests of language choice set the header themselves."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture(scope="session")
def templates(tmp_path_factory) -> Iterator[_Templates]:
    templates = _Templates(tmp_path_factory.mktemp("databases"))
    yield templates
    templates.close()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def database_url(backend, templates) -> Iterator[str]:
    """The URL of a fresh, migrated database for this test."""
    if backend == "sqlite":
        yield templates.sqlite_copy()
        return
    url, name = templates.pg_copy()
    yield url
    templates.drop_pg_database(name)


@pytest.fixture
def make_app(database_url, tmp_path) -> Iterator[Callable[..., Flask]]:
    """Build apps on this test's database with extra config."""
    apps: list[Flask] = []

    def make(**config) -> Flask:
        app = create_app(
            {
                **BASE_CONFIG,
                "DATABASE_URL": database_url,
                "INSTANCE_PATH": str(tmp_path / "instance"),
                **config,
            }
        )
        app.test_client_class = EnglishClient
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(make_app) -> Flask:
    return make_app()


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_user(app) -> Callable[..., User]:
    """Create and commit a user; roles given as strings."""
    counter = itertools.count(1)

    def make(
        *roles: str,
        email: str | None = None,
        password: str = PASSWORD,
        name: str | None = None,
        **fields,
    ) -> User:
        n = next(counter)
        with app.app_context():
            user = auth_services.create_user(
                email=email or f"user{n}-{'-'.join(roles) or 'none'}@example.com",
                display_name=name or f"Test User {n}",
                password=password,
                roles=roles,
                check_password=False,
                **fields,
            )
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
        return user

    return make


@pytest.fixture
def login_as(app, make_user) -> Callable[..., FlaskClient]:
    """A new client signed in as a new user holding ``roles``."""

    def make(*roles: str, **fields) -> FlaskClient:
        user = make_user(*roles, **fields)
        client = app.test_client()
        response = login(client, user.email)
        assert response.status_code == 302, response.get_data(as_text=True)
        client.user = user
        return client

    return make


@pytest.fixture
def make_token(app) -> Callable[[User], str]:
    def make(user: User, name: str = "test") -> str:
        with app.app_context():
            _token, secret = auth_services.create_token(
                db.session.get(User, user.id), name
            )
            db.session.commit()
        return secret

    return make


# --- experiments ------------------------------------------------------------------

METRICS = {
    "converted": {
        "name": {"zh": "成交转化", "en": "Converted"},
        "kind": "proportion",
        "event_type": "deal_won",
    },
    "deal_value": {
        "name": {"zh": "成交金额", "en": "Deal value"},
        "kind": "mean",
        "event_type": "deal_won",
        "aggregate": "sum",
        "cuped_lookback_days": 30,
    },
}


def experiment_body(key: str = "price-objection-script", **overrides) -> dict:
    """An API body for a complete, launchable experiment design."""
    return {
        "key": key,
        "name": "价格异议话术 Price-objection script",
        "hypothesis": {
            "if": "reps answer price objections with the value script",
            "then": "more leads convert",
            "because": "price is reframed as value",
        },
        "unit_type": "lead",
        "variants": [
            {"key": "control", "weight": 0.5},
            {"key": "new_script", "weight": 0.5},
        ],
        "primary_metrics": ["converted"],
        "secondary_metrics": ["deal_value"],
        "analysis": {"alpha": 0.05, "cuped": True, "sequential": False, "mde": 0.1},
        "decision_criteria": {
            "success": "Conversion +2 points, 95% interval above 0",
            "early_stop": "Deal value down 10% or more",
        },
        **overrides,
    }


@pytest.fixture
def manager(make_user) -> User:
    return make_user("manager")


@pytest.fixture
def manager_api(app, manager, make_token):
    """A test client and bearer headers acting as a manager."""
    return app.test_client(), {"Authorization": f"Bearer {make_token(manager)}"}


@pytest.fixture
def make_metrics(manager_api):
    """Create the standard metrics through the API."""

    def make(*keys: str) -> None:
        client, auth = manager_api
        for key in keys or METRICS:
            response = client.post(
                "/api/v1/metrics", json={"key": key, **METRICS[key]}, headers=auth
            )
            assert response.status_code == 201, response.json

    return make


@pytest.fixture
def make_experiment(manager_api, make_metrics):
    """Create (and by default start) an experiment through the API; returns its JSON."""
    made_metrics = []

    def make(key: str = "price-objection-script", *, start: bool = True, **overrides):
        client, auth = manager_api
        if not made_metrics:
            make_metrics()
            made_metrics.append(True)
        response = client.post(
            "/api/v1/experiments", json=experiment_body(key, **overrides), headers=auth
        )
        assert response.status_code == 201, response.json
        if start:
            response = client.post(f"/api/v1/experiments/{key}/start", headers=auth)
            assert response.status_code == 200, response.json
        return response.json

    return make


@pytest.fixture
def write_key(app) -> str:
    with app.app_context():
        _token, secret = auth_services.create_token(None, "crm", kind="ingest")
        db.session.commit()
    return secret
