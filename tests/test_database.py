"""The data layer: migrations agree with the models; engine settings per database."""

import os
import subprocess
import sys

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from api.extensions import db
from tests.conftest import build_app, dispose


def test_migrations_and_models_agree(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_migrations_build_from_empty_and_tear_down(database_kind, make_database):
    app = build_app(make_database(database_kind))
    with app.app_context():
        upgrade()
        inspector = sa.inspect(db.engine)
        assert {"people", "alembic_version"} <= set(inspector.get_table_names())
        checks = {check["name"] for check in inspector.get_check_constraints("people")}
        assert checks == {
            "ck_people_age_range",
            "ck_people_name_not_empty",
            "ck_people_locale_not_empty",
        }
        if database_kind == "postgres":  # SQLite's inline AUTOINCREMENT key has no name
            assert inspector.get_pk_constraint("people")["name"] == "pk_people"
        upgrade()  # a second run is a no-op
        downgrade(revision="base")
        assert "people" not in sa.inspect(db.engine).get_table_names()
        upgrade()
        assert "people" in sa.inspect(db.engine).get_table_names()
    dispose(app)


def test_database_constraints_back_the_validation(app):
    with app.app_context():
        for values in ["('x', 151, 'NYC')", "('', 1, 'NYC')", "('x', 1, '')"]:
            try:
                with db.engine.begin() as connection:
                    connection.execute(
                        sa.text(f"INSERT INTO people (name, age, locale) VALUES {values}")
                    )
            except sa.exc.IntegrityError:
                continue
            raise AssertionError(f"the database accepted {values}")


def test_sqlite_connections_are_set_up_for_many_processes(tmp_path):
    app = build_app(f"sqlite:///{tmp_path}/p.db", SQLITE_BUSY_TIMEOUT=7)
    with app.app_context(), db.engine.connect() as connection:
        pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 2  # FULL
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == 7000
    dispose(app)


def test_postgres_pool_checks_connections_before_use(make_database):
    app = build_app(make_database("postgres"))
    with app.app_context():
        assert db.engine.pool._pre_ping is True
        assert db.engine.dialect.driver == "psycopg"
    dispose(app)


def test_gunicorn_workers_skip_the_migration_commands(tmp_path):
    """Alembic costs a worker ~10 MB and a server never migrates; `flask db` keeps it."""
    script = (
        "import sys; from api import create_app; app = create_app();"
        "print('migrate' in app.extensions, 'alembic' in sys.modules)"
    )
    for server_software, expected in [(None, "True True"), ("gunicorn/27.0.1", "False False")]:
        environment = {key: value for key, value in os.environ.items() if key != "SERVER_SOFTWARE"}
        if server_software:
            environment["SERVER_SOFTWARE"] = server_software
        environment["DATABASE_URL"] = "sqlite://"
        environment["INSTANCE_PATH"] = str(tmp_path)
        result = subprocess.run(
            [sys.executable, "-c", script], env=environment, capture_output=True, text=True
        )
        assert result.stdout.strip() == expected, result.stderr
