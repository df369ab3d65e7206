"""Fixtures: every test that takes `app` runs once on SQLite and once on Postgres."""

import os
import shutil
import subprocess
import uuid

import psycopg
import pytest
import sqlalchemy as sa
from flask import Blueprint
from flask_migrate import upgrade

from api import create_app
from api.auth import issue_token
from api.extensions import db
from tests.redis_server import RedisServer

# The Postgres server the suite creates its own databases on (trust auth by default).
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


INSTANCE_FOLDER = {}


@pytest.fixture(autouse=True)
def server_tests_are_marked(request, monkeypatch):
    """A test that starts a process must say so with @pytest.mark.server, so that
    `-m "not server"` stays the quick loop; starting one without the marker fails the test."""
    if request.node.get_closest_marker("server"):
        return

    def refuse(*args, **kwargs):
        raise AssertionError(f"{request.node.nodeid} starts a process: mark it @pytest.mark.server")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


def pytest_collection_modifyitems(items):
    """Mark `postgres` every test that needs the test Postgres (a Postgres parameter, or a
    fixture that connects to the server), so that `-m "not server and not postgres"` is a
    loop on SQLite alone."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        kind = callspec.params.get("database_kind") if callspec else None
        if kind == "postgres" or "postgres_admin" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session", autouse=True)
def instance_folder(tmp_path_factory):
    """Apps built by tests keep their local files out of the work tree."""
    INSTANCE_FOLDER["path"] = str(tmp_path_factory.mktemp("instance"))


# SQLite files of the tests are not flushed to disk at each commit (SQLITE_SYNCHRONOUS=OFF),
# as the tests' Postgres runs with fsync off: a crash loses nothing anyone needs, and the
# flushes were most of the quick loop's wall time. Nothing a client sees depends on it;
# tests/test_database.py checks the production default (FULL) on an app of its own.
TEST_SQLITE_SYNCHRONOUS = "OFF"


def build_app(database_url, **overrides):
    # Request log lines are written at once, so that capsys holds them after each request
    # (tests/test_logs.py checks the batching that is the default).
    settings = {"TESTING": True, "DATABASE_URL": database_url, "LOG_FLUSH_MS": 0}
    settings["SQLITE_SYNCHRONOUS"] = TEST_SQLITE_SYNCHRONOUS
    settings["INSTANCE_PATH"] = INSTANCE_FOLDER["path"]
    return create_app({**settings, **overrides})


def add_broken_route(app):
    """One extra route, /broken, that fails with an unexpected exception."""
    broken = Blueprint("broken", __name__)

    @broken.get("/broken")
    def fail():
        raise RuntimeError("secret internal detail")

    app.register_blueprint(broken)
    return app


def dispose(app):
    with app.app_context():
        db.engine.dispose()


def migrate(database_url):
    app = build_app(database_url)
    with app.app_context():
        upgrade()
    dispose(app)


@pytest.fixture(scope="session")
def postgres_admin():
    """A connection to the server, to create and drop test databases; never skipped."""
    try:
        connection = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(
            f"No Postgres at {POSTGRES_URL} ({error}); the README's test command starts one."
        )
    with connection:
        yield connection


@pytest.fixture(scope="session")
def make_postgres_database(postgres_admin):
    """Create empty Postgres databases on demand; drop them all at the end."""
    created = []

    def make():
        name = f"people_test_{uuid.uuid4().hex[:12]}"
        postgres_admin.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return sa.make_url(POSTGRES_URL).set(database=name).render_as_string(False)

    yield make
    for name in created:
        postgres_admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def make_database(request, tmp_path, make_postgres_database):
    """Return a function that creates an empty database of a given kind."""

    def make(kind):
        if kind == "sqlite":
            return f"sqlite:///{tmp_path}/{uuid.uuid4().hex[:8]}.db"
        return make_postgres_database()

    return make


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_kind(request):
    return request.param


# For checks that end before storage (parsing, validation): the answer cannot depend on
# the database, so they run on SQLite alone; what is stored is still checked there.
before_storage = pytest.mark.parametrize("database_kind", ["sqlite"], scope="session")


def new_migrated_database(database_kind, folder, request):
    """A new, migrated database of this kind: a SQLite file in `folder`, or a database on
    the test Postgres (dropped at the end of the session)."""
    if database_kind == "sqlite":
        url = f"sqlite:///{folder}/people.db"
    else:
        url = request.getfixturevalue("make_postgres_database")()
    migrate(url)
    return url


@pytest.fixture
def sqlite_database(tmp_path, request):
    """A new, migrated SQLite file of the test's own, for tests of what does not depend on
    the database (the document, the docs page, CORS): no `database_kind`, so such a module
    never shares, nor reorders, the session's per-kind templates."""
    return new_migrated_database("sqlite", tmp_path, request)


@pytest.fixture
def redis_server():
    """A redis-server of the test's own (tests/redis_server.py)."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory, request):
    """One database migrated once per kind, made on first use; each test gets a copy
    (SQLite) or the same one, emptied (Postgres). Keyed by kind here rather than a session
    fixture on `database_kind`: a module that mixes `before_storage` tests with tests on both
    kinds could otherwise be handed the other kind's template."""
    made = {}

    def template(kind):
        if kind not in made:
            folder = tmp_path_factory.mktemp("template")
            made[kind] = new_migrated_database(kind, folder, request)
        return made[kind]

    return template


@pytest.fixture
def database_url(database_kind, migrated_templates, tmp_path, empty_postgres_database):
    """A migrated, empty database of the current kind, for this test alone."""
    template = migrated_templates(database_kind)
    if database_kind == "sqlite":
        shutil.copy(sa.make_url(template).database, tmp_path / "people.db")
        return f"sqlite:///{tmp_path}/people.db"
    empty_postgres_database(template)
    return template


# Every id sequence back to 1, as a new database has them.
RESTART_SEQUENCES = (
    "SELECT setval(oid, 1, false) FROM pg_class"
    " WHERE relkind = 'S' AND relnamespace = 'public'::regnamespace"
)


@pytest.fixture(scope="session")
def empty_postgres_database():
    """Empty a Postgres database between tests, on one connection per database kept for the
    session (opened again if a test ended every session on the database).

    DELETE, children first so that no foreign key refuses it: on the few rows a test
    leaves it takes a few ms, where TRUNCATE, which makes new files for every table and
    index, took tens of ms (measured on a busy machine: 3.6 ms against 77 ms)."""
    tables = reversed(db.metadata.sorted_tables)
    delete_everything = "; ".join(f'DELETE FROM "{table.name}"' for table in tables)
    held = {}

    def empty(url):
        for attempt in range(2):
            if url not in held or held[url].closed:
                held[url] = psycopg.connect(url, autocommit=True)
            try:
                with held[url].transaction():
                    held[url].execute(delete_everything)
                    held[url].execute(RESTART_SEQUENCES)
                return
            except psycopg.OperationalError:
                held[url].close()
                if attempt:
                    raise

    yield empty
    for connection in held.values():
        connection.close()


@pytest.fixture
def make_app():
    """Build apps as build_app does; each one's database connections are closed after the
    test, whatever happened in it. `make_app.broken(...)` adds the failing /broken route."""
    built = []

    def make(database_url, **overrides):
        app = build_app(database_url, **overrides)
        built.append(app)
        return app

    def broken(database_url, **overrides):
        return add_broken_route(make(database_url, **overrides))

    make.broken = broken
    yield make
    for app in built:
        dispose(app)


@pytest.fixture
def postgres_database(make_database, make_app):
    """A migrated Postgres database of the test's own: its URL, an app and a write token."""
    url = make_database("postgres")
    migrate(url)
    app = make_app(url)
    return url, app, make_token(app)


@pytest.fixture
def app(database_url):
    app = build_app(database_url)
    yield app
    dispose(app)


def make_token(app, name="tests", role="write", expires_at=None):
    """Create a token in the app's database and return its secret."""
    with app.app_context():
        return issue_token(name, role, expires_at)


def bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def write_token(app):
    return make_token(app)


@pytest.fixture
def client(app, write_token):
    """A test client that sends a valid write token with every request."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {write_token}"
    return client


@pytest.fixture
def stored_people(app):
    """Read the people table directly, to check what a request really stored."""

    def read():
        with app.app_context():
            rows = db.session.execute(
                sa.text("SELECT id, name, age, locale FROM people ORDER BY id")
            )
            return [dict(row._mapping) for row in rows]

    return read
