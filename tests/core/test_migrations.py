"""Migrations: one head, empty → head → base → head on each backend, and the models
match the migrated schema."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from proving_ground.db import db


def _script(app) -> ScriptDirectory:
    return ScriptDirectory(app.config["MIGRATIONS_DIRECTORY"])


def test_single_head(app):
    assert len(_script(app).get_heads()) == 1


def test_file_names_are_date_prefixed(app):
    import re
    from pathlib import Path

    for path in (Path(app.config["MIGRATIONS_DIRECTORY"]) / "versions").glob("*.py"):
        assert re.match(r"\d{8}_\d{4}_[0-9a-f]+_\w+\.py$", path.name), path.name


def test_upgrade_downgrade_upgrade(app):
    """The fixture database is at head; go down to empty and back up."""
    with app.app_context():
        head = _script(app).get_current_head()
        downgrade(revision="base")
        tables = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        upgrade()
        with db.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head
        assert {"users", "user_roles", "api_tokens", "audit_events"} <= set(
            sa.inspect(db.engine).get_table_names()
        )


def test_models_match_migrations(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []
