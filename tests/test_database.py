"""The data layer: migrations agree with the models; engine settings per database."""

import time

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from api.extensions import db
from config import Config
from tests.conftest import make_token, migrate
from tests.helpers import end_postgres_sessions


def test_migrations_and_models_agree(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_migrations_build_from_empty_and_tear_down(database_kind, make_database, make_app):
    app = make_app(make_database(database_kind))
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


def test_sqlite_connections_are_set_up_for_many_processes(tmp_path, make_app):
    # The production default for synchronous, not the tests' own (see build_app).
    default = Config.SQLITE_SYNCHRONOUS
    app = make_app(f"sqlite:///{tmp_path}/p.db", SQLITE_BUSY_TIMEOUT=7, SQLITE_SYNCHRONOUS=default)
    with app.app_context(), db.engine.connect() as connection:
        pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 2  # FULL
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == 7000


@pytest.mark.parametrize("idle_seconds", [0, 1])
def test_postgres_replaces_connections_that_died_while_idle(
    make_database, postgres_admin, idle_seconds
, make_app):
    """A database restart between requests costs the next request nothing: the ping
    before use (every use with 0, after idle_seconds otherwise) finds the dead connection."""
    url = make_database("postgres")
    migrate(url)
    app = make_app(url, DATABASE_PING_IDLE_SECONDS=idle_seconds)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token(app)}"
    assert client.get("/resources/data/1").status_code == 404  # a pooled connection now
    killed = end_postgres_sessions(postgres_admin, "datname = %s", (sa.make_url(url).database,))
    assert killed >= 1
    time.sleep(idle_seconds + 0.1)  # the connection sits idle past the threshold
    assert client.get("/resources/data/1").status_code == 404
    with app.app_context():
        assert db.engine.dialect.driver == "psycopg"


def test_a_connection_killed_between_pings_is_a_503_then_replaced(
    make_database, postgres_admin, make_app
):
    """Without a ping (the connection was busy a moment ago), the request that finds the
    dead connection gets the usual 503; the next one gets a new connection."""
    url = make_database("postgres")
    migrate(url)
    app = make_app(url, DATABASE_PING_IDLE_SECONDS=3600)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token(app)}"
    assert client.get("/resources/data/1").status_code == 404
    end_postgres_sessions(postgres_admin, "datname = %s", (sa.make_url(url).database,))
    failed = client.get("/resources/data/1")
    assert failed.status_code == 503
    assert failed.mimetype == "application/problem+json"
    assert failed.headers["Retry-After"] == "1"
    assert client.get("/resources/data/1").status_code == 404
