"""Stuck queries and connection limits: a locked table, the pool's cap, idle connections."""

import json
import os
import random
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade

from api.extensions import db
from tests.conftest import bearer, make_token, migrate
from tests.databases import (
    app_connections,
    people_table_locked,
    sessions_opened,
)
from tests.helpers import poll
from tests.servers import ROOT, gunicorn, request

PROBLEM = "application/problem+json"
PETER = {"name": "peter", "age": 42, "locale": "NYC"}


def token_client(app):
    """A test client with a write token whose check is cached for the whole test."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token(app)}"
    return client


def assert_unavailable(response):
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    assert response.headers["Retry-After"] == "1"
    assert response.get_json()["status"] == 503


def test_a_locked_table_ends_requests_with_a_503_and_stores_nothing(
    database_url, database_kind, stored_people
, make_app):
    """With a 1 s bound, each request that waits for the lock answers 503 within a few
    seconds; once the lock is gone, nothing of what those requests sent is stored."""
    app = make_app(
        database_url, DATABASE_STATEMENT_TIMEOUT=1, SQLITE_BUSY_TIMEOUT=1, TOKEN_CACHE_SECONDS=60
    )
    client = token_client(app)
    created = client.put("/resources/data/", json=PETER)
    assert created.status_code == 201
    location = created.headers["Location"]
    before = stored_people()
    with people_table_locked(database_url, release_after=8):
        answers = {}
        for name, call in {
            "get": lambda: client.get(location),
            "create": lambda: client.put("/resources/data/", json={**PETER, "name": "new"}),
            "replace": lambda: client.put(location, json={**PETER, "age": 43}),
        }.items():
            started = time.monotonic()
            answers[name] = call()
            assert time.monotonic() - started < 6, name
    if database_kind == "sqlite":
        # WAL: readers never wait for the writer's lock, so the GET is answered.
        assert answers.pop("get").status_code == 200
    for response in answers.values():
        assert_unavailable(response)
    assert stored_people() == before
    assert client.get(location).get_json()["age"] == 42


@pytest.mark.server
def test_the_default_bound_ends_stuck_requests_before_the_platform_timeouts(
    make_database, tmp_path
, make_app):
    """Under a real gunicorn with the default settings (5 s), a GET, a create and a
    replace stuck on a locked table each get a 503 well inside gunicorn's 25 s and
    Heroku's 30 s, and no write is stored after the lock goes."""
    url = make_database("postgres")
    migrate(url)
    app = make_app(url)
    token = make_token(app)
    headers = {**bearer(token), "Content-Type": "application/json"}
    with gunicorn(url, tmp_path / "gunicorn.log") as base_url:
        created = request(base_url, "PUT", "/resources/data/", json.dumps(PETER), headers)
        assert created.status == 201
        location = created.headers["Location"]
        calls = {
            "get": ("GET", location, None),
            "create": ("PUT", "/resources/data/", json.dumps({**PETER, "name": "new"})),
            "replace": ("PUT", location, json.dumps({**PETER, "age": 43})),
        }
        answers = {}

        def call(name):
            method, path, body = calls[name]
            started = time.monotonic()
            answers[name] = (request(base_url, method, path, body, headers, 40), started)

        with people_table_locked(url):
            threads = [threading.Thread(target=call, args=(name,)) for name in calls]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(40)
            ended = time.monotonic()
        for name, (response, started) in answers.items():
            assert response.status == 503, (name, response.body)
            assert response.headers["Content-Type"] == PROBLEM
            assert response.headers["Retry-After"] == "1"
            assert ended - started < 15, name
        assert len(answers) == 3
    with app.app_context():
        stored = db.session.execute(sa.text("SELECT name, age FROM people")).all()
    assert [tuple(row) for row in stored] == [("peter", 42)]


@pytest.fixture
def postgres_url(make_database):
    url = make_database("postgres")
    migrate(url)
    return url


def test_a_worker_never_holds_more_connections_than_its_pool_size(
    postgres_url, postgres_admin, make_app
):
    """Four requests at once on a pool of two: the server never sees a third connection;
    the two that find no free connection within DATABASE_POOL_TIMEOUT get a 503."""
    app = make_app(
        postgres_url,
        DATABASE_POOL_SIZE=2,
        DATABASE_POOL_TIMEOUT=1,
        DATABASE_STATEMENT_TIMEOUT=3,
        TOKEN_CACHE_SECONDS=60,
    )
    client = token_client(app)
    assert client.get("/resources/data/1").status_code == 404
    answers = []
    most = 0
    with people_table_locked(postgres_url):
        threads = [
            threading.Thread(target=lambda: answers.append(client.get("/resources/data/1")))
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            most = max(most, app_connections(postgres_admin, postgres_url))
            time.sleep(0.05)
    assert most == 2
    assert len(answers) == 4
    for response in answers:
        assert_unavailable(response)


def test_idle_connections_go_back_to_the_database(postgres_url, postgres_admin, make_app):
    """After a burst, the connections a worker opened are closed once idle for
    DATABASE_CLOSE_IDLE_SECONDS; the next request opens one again."""
    app = make_app(
        postgres_url,
        DATABASE_CLOSE_IDLE_SECONDS=1,
        DATABASE_STATEMENT_TIMEOUT=2,
        TOKEN_CACHE_SECONDS=60,
    )
    client = token_client(app)
    answers = []
    with people_table_locked(postgres_url):  # makes three requests hold a connection at once
        threads = [
            threading.Thread(target=lambda: answers.append(client.get("/resources/data/1")))
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        poll(
            lambda: app_connections(postgres_admin, postgres_url) == 3, 5, "no three connections"
        )
        for thread in threads:
            thread.join(10)
    assert [response.status_code for response in answers] == [503] * 3
    assert client.get("/resources/data/1").status_code == 404
    poll(
        lambda: app_connections(postgres_admin, postgres_url) == 0, 10, "idle connections kept"
    )
    assert client.get("/resources/data/1").status_code == 404
    assert app_connections(postgres_admin, postgres_url) == 1


def test_closing_idle_connections_under_load_fails_no_request(
    postgres_url, postgres_admin, make_app
):
    """Connections closed after 50 ms idle while eight threads come and go: the pool
    opens new ones all the time (checked on the server), and no request fails."""
    app = make_app(postgres_url, DATABASE_CLOSE_IDLE_SECONDS=0.05, TOKEN_CACHE_SECONDS=60)
    client = token_client(app)
    opened_before = sessions_opened(postgres_admin, postgres_url)
    statuses = []
    stop = time.monotonic() + 3

    def read():
        generator = random.Random(len(statuses))
        while time.monotonic() < stop:
            statuses.append(client.get("/resources/data/1").status_code)
            time.sleep(generator.uniform(0, 0.1))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses and set(statuses) == {404}
    poll(
        lambda: sessions_opened(postgres_admin, postgres_url) - opened_before > 20,
        5,
        "idle connections were not closed and reopened",
    )


def test_a_database_error_that_is_not_an_outage_is_a_503_with_its_traceback_logged(
    make_database, capsys
, make_app):
    """A database without the schema (ProgrammingError on Postgres): 503, and the log
    has the traceback, since such an error may be a bug."""
    app = make_app(make_database("postgres"))
    response = app.test_client().get("/resources/data/1", headers=bearer("pplapi_x"))
    assert_unavailable(response)
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    errors = [line for line in logged if line["level"] == "ERROR"]
    assert errors and "UndefinedTable" in errors[0]["traceback"]


@pytest.mark.server  # reads the settings in a fresh interpreter
@pytest.mark.parametrize(
    ("environment", "pool_size"),
    [
        ({}, 4),
        ({"GUNICORN_THREADS": "2"}, 2),
        ({"GUNICORN_THREADS": "2", "DATABASE_POOL_SIZE": "6"}, 6),
        ({"DATABASE_POOL_SIZE": "0"}, 4),  # 0 would mean "no limit" to SQLAlchemy
    ],
)
def test_a_worker_takes_as_many_connections_as_it_has_threads_by_default(
    environment, pool_size
):
    """Settings are read when config.py is imported, so a fresh interpreter reads them."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "GUNICORN_"))}
    printed = subprocess.run(
        [sys.executable, "-c", "from config import Config; print(Config.DATABASE_POOL_SIZE)"],
        cwd=ROOT,
        env={**clean, **environment},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert int(printed) == pool_size


def test_an_unknown_pooler_mode_is_refused(postgres_url, make_app):
    with pytest.raises(ValueError, match="DATABASE_POOLER must be unset or 'transaction'"):
        make_app(postgres_url, DATABASE_POOLER="statement")


def test_a_migration_that_cannot_get_its_lock_gives_up(postgres_url, make_app):
    """Migrations keep the lock timeout: one that needs the locked table fails after
    DATABASE_STATEMENT_TIMEOUT instead of making every request queue behind it."""
    app = make_app(postgres_url, DATABASE_STATEMENT_TIMEOUT=1)
    with app.app_context(), people_table_locked(postgres_url, release_after=10):
        started = time.monotonic()
        with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
            downgrade(revision="base")  # drops the people table
        assert time.monotonic() - started < 5
