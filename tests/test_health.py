"""Liveness and readiness probes: no token; readiness follows the database."""

import os
import time

import psycopg
import sqlalchemy as sa

from tests.conftest import POSTGRES_URL, migrate
from tests.helpers import end_postgres_sessions
from tests.test_people import assert_problem


def test_probes_need_no_token(app):
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "alive"}
    assert client.get("/readyz").get_json() == {"status": "ready"}
    assert client.head("/readyz").status_code == 200


def test_liveness_does_not_touch_the_database(make_app):
    app = make_app("postgresql://postgres@127.0.0.1:1/none")
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert_problem(response, 503)
    assert response.headers["Retry-After"] == "1"


def test_an_empty_database_is_not_ready(make_database, database_kind, make_app):
    app = make_app(make_database(database_kind))  # not migrated: no people table
    assert_problem(app.test_client().get("/readyz"), 503)


def own_database(make_database, kind):
    """A migrated database that this test alone uses, so that it may take it away."""
    url = make_database(kind)
    migrate(url)
    return url


def test_readiness_follows_an_unreachable_sqlite_file(make_database, make_app):
    database_url = own_database(make_database, "sqlite")
    app = make_app(database_url)
    client = app.test_client()
    path = sa.make_url(database_url).database
    assert client.get("/readyz").status_code == 200
    os.rename(path, path + ".away")
    assert_problem(client.get("/readyz"), 503)
    assert not os.path.exists(path), "the probe must not create an empty database"
    os.rename(path + ".away", path)
    assert client.get("/readyz").status_code == 200


def test_readiness_follows_an_unreachable_postgres_database(make_database, make_app):
    database_url = own_database(make_database, "postgres")
    app = make_app(database_url)
    client = app.test_client()
    name = sa.make_url(database_url).database
    assert client.get("/readyz").status_code == 200
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            end_postgres_sessions(admin, "datname = %s", (name,))
            assert_problem(client.get("/readyz"), 503)
            assert_problem(client.get("/readyz"), 503)
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    assert client.get("/readyz").status_code == 200


def test_readiness_gives_up_on_a_locked_postgres_table_in_time(make_database, make_app):
    # SQLite needs no such test: in WAL mode a reader never waits for a writer's lock.
    database_url = own_database(make_database, "postgres")
    app = make_app(database_url, READINESS_TIMEOUT=1)
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    with psycopg.connect(database_url) as migration:
        migration.execute("LOCK TABLE people IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        assert_problem(client.get("/readyz"), 503)
        assert time.monotonic() - started < 3
    assert client.get("/readyz").status_code == 200
