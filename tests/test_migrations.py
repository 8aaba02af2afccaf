"""One migration history that builds the whole schema, on SQLite and on PostgreSQL."""
from __future__ import annotations

import shutil

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, migrate, upgrade

from academy.extensions import db
from tests.conftest import REPO, _database_url


def test_single_head(app):
    config = app.extensions["migrate"].migrate.get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_models_match_the_migrations(app, tmp_path):
    """Upgrade an empty database and compare it with the models: nothing may differ."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        target = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    else:
        target = None  # the test database itself was built by the migrations (plus nothing else)
    if target:
        app.config["SQLALCHEMY_DATABASE_URI"] = target
        engine = sa.create_engine(target)
        original = db.engines[None]
        db.engines[None] = engine  # type: ignore[index]
        try:
            upgrade()
            with engine.connect() as conn:
                diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        finally:
            db.engines[None] = original  # type: ignore[index]
    else:
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == [], f"models and migrations differ: {diff[:5]}"


def test_autogenerate_writes_a_migration_that_builds_the_schema(app, tmp_path):
    """Generate a first migration from the models alone, with no hand edit, and build an empty
    database with it: users and companies refer to each other, and the foreign key marked
    use_alter must come out as its own step (PostgreSQL would leave it out of CREATE TABLE)."""
    directory = tmp_path / "migrations"
    (directory / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako", "alembic.ini"):
        shutil.copy(REPO / "migrations" / name, directory / name)
    url, drop = _database_url(tmp_path)
    engine = sa.create_engine(url)
    original = db.engines[None]
    db.engines[None] = engine  # type: ignore[index]
    try:
        migrate(directory=str(directory), message="initial schema")
        (script,) = (directory / "versions").glob("*.py")
        assert "use_alter" not in script.read_text()
        upgrade(directory=str(directory))
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
            keys = sa.inspect(conn).get_foreign_keys("companies")
        assert diff == [], f"models and the generated migration differ: {diff[:5]}"
        assert [k["referred_table"] for k in keys if k["constrained_columns"] == ["reviewed_by_id"]] == ["users"]
        downgrade(directory=str(directory), revision="base")
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == ["alembic_version"]
    finally:
        db.engines[None] = original  # type: ignore[index]
        engine.dispose()
        drop()
