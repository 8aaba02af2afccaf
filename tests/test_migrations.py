"""One migration history that builds the whole schema, on SQLite and on PostgreSQL."""
from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from academy.extensions import db


def test_single_head(app):
    from flask_migrate import Migrate  # noqa: F401

    config = app.extensions["migrate"].migrate.get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_models_match_the_migrations(app, tmp_path):
    """Upgrade an empty database and compare it with the models: nothing may differ."""
    from flask_migrate import upgrade

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
