"""The data layer: migrations agree with the models; engine settings per database."""

import sqlite3
import threading
import time

import psycopg
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


def close_a_pooled_connection_behind_the_pools_back():
    """The connection the pool hands out next (last in, first out) is closed."""
    pooled = db.engine.raw_connection()
    driver = pooled.driver_connection
    pooled.close()  # back in the pool, open
    driver.close()


def test_a_pooled_connection_that_refuses_autocommit_is_discarded(make_database, make_app):
    """The GET's driver path switches a pooled connection to autocommit first; one closed
    while it sat in the pool refuses. It goes back to the pool at once, invalidated, not
    held by the error until the garbage collector finds it; the request gets the 503."""
    url = make_database("postgres")
    migrate(url)
    app = make_app(url, DATABASE_PING_IDLE_SECONDS=3600)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token(app)}"
    with app.app_context():
        close_a_pooled_connection_behind_the_pools_back()
        with pytest.raises(psycopg.OperationalError) as refused:
            app.extensions["driver_connections"].take()
        # `refused` still holds the traceback, and with it anything the failed call held.
        assert refused.value and db.engine.pool.checkedout() == 0
        close_a_pooled_connection_behind_the_pools_back()
        failed = client.get("/resources/data/1")
        assert failed.status_code == 503 and failed.mimetype == "application/problem+json"
        assert client.get("/resources/data/1").status_code == 404
        assert db.engine.pool.checkedout() == 0


def test_sqlite_threads_keep_a_connection_of_their_own_until_dispose(tmp_path, make_app):
    def is_closed(connection):
        try:
            connection.cursor()
        except sqlite3.ProgrammingError:
            return True
        return False

    app = make_app(f"sqlite:///{tmp_path}/p.db")
    with app.app_context():
        connections = app.extensions["driver_connections"]
        mine = connections.take()
        assert connections.take() is mine  # kept from one statement to the next
        others = []
        thread = threading.Thread(target=lambda: others.append(connections.take()))
        thread.start()
        thread.join()
        assert others[0] is not mine
        assert db.engine.pool.checkedout() == 0  # detached: the pool's own are untouched
        assert mine.cursor().execute("PRAGMA journal_mode").fetchall() == [("wal",)]
        first, other = mine.dbapi_connection, others[0].dbapi_connection
        connections.discard(mine)  # after a failure: closed, and the next one is new
        assert is_closed(first) and not is_closed(other)
        fresh = connections.take()
        assert fresh is not mine
        second = fresh.dbapi_connection
        db.engine.dispose()  # closes every thread's
        assert is_closed(second) and is_closed(other)
        connections.discard(fresh)  # a statement that failed while the engine was disposed
        assert connections.take().dbapi_connection is not second
