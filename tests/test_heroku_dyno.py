"""The Procfile's web command with the variables Heroku's Python buildpack sets on a dyno."""

import json
import os
import signal

import pytest

from tests.conftest import bearer, make_token, migrate
from tests.deployment import (
    ROOT,
    platform_environment,
    procfile_processes,
    wait_for_log,
    web_process,
)
from tests.servers import free_port, request

pytestmark = pytest.mark.server

# What the buildpack exports on every dyno (heroku/heroku-buildpack-python's profile script).
BUILDPACK_VARIABLES = {"GUNICORN_CMD_ARGS": "--access-logfile -", "FORWARDED_ALLOW_IPS": "*"}
# What Heroku's router says of a request that came to it over HTTPS.
ROUTER_HTTPS = {"X-Forwarded-Proto": "https"}


@pytest.fixture
def dyno_environment(make_postgres_database, tmp_path, make_app):
    """A dyno's environment (production, Postgres, the buildpack's variables) and a token."""
    database_url = make_postgres_database()
    migrate(database_url)
    app = make_app(database_url)
    token = make_token(app)
    env = platform_environment(
        tmp_path,
        PORT=str(free_port()),
        DATABASE_URL=database_url.replace("postgresql://", "postgres://", 1),
        WEB_CONCURRENCY="2",
        DYNO="web.1",
        **BUILDPACK_VARIABLES,
    )
    return env, token


def test_stdout_stays_one_json_object_a_line(dyno_environment, tmp_path):
    env, token = dyno_environment
    person = json.dumps({"name": "ann", "age": 7, "locale": "LDN"})
    writer = {**bearer(token), "Content-Type": "application/json"}
    web = procfile_processes(ROOT / "Procfile")["web"]
    reader = {**bearer(token), **ROUTER_HTTPS}
    with web_process(web, env, tmp_path) as (base_url, process):
        answers = [
            request(base_url, "PUT", "/resources/data/", person, {**writer, **ROUTER_HTTPS}),
            request(base_url, "GET", "/resources/data/1", headers=reader),
            request(base_url, "GET", "/resources/data/1", headers=ROUTER_HTTPS),
            request(base_url, "GET", "/no/such/page", headers=reader),
        ]
        # Heroku's router appends the address the request came from to what the client sent.
        routed = {**reader, "X-Forwarded-For": "203.0.113.66, 198.51.100.7"}
        answers.append(request(base_url, "GET", "/resources/data/1", headers=routed))
        # Nor the headers gunicorn would map to SCRIPT_NAME and PATH_INFO by default.
        moved = {**reader, "SCRIPT_NAME": "/resources", "PATH_INFO": "/metrics"}
        answers.append(request(base_url, "GET", "/resources/data/1", headers=moved))
        # The router says "http" of a request that came over plain HTTP: refused on a dyno.
        plain = {**bearer(token), "X-Forwarded-Proto": "http"}
        answers.append(request(base_url, "GET", "/resources/data/1", headers=plain))
        # A reload reads GUNICORN_CMD_ARGS again and sets the loggers up anew.
        wait_for_log(tmp_path / "stderr.log", "Booting worker", count=2)
        os.kill(process.pid, signal.SIGHUP)
        reloaded = wait_for_log(tmp_path / "stderr.log", "Booting worker", count=4)
        assert reloaded.count("Booting worker") == 4
        answers.append(request(base_url, "GET", "/resources/data/1", headers=reader))
    # The web process has stopped: every line it wrote is in the file.
    lines = (tmp_path / "stdout.log").read_text().splitlines()
    assert [answer.status for answer in answers] == [201, 200, 401, 404, 200, 200, 403, 200]
    entries = [json.loads(line) for line in lines]  # fails on any plain access line
    logged = {entry["request_id"] for entry in entries if entry["message"] == "request"}
    assert {answer.headers["X-Request-ID"] for answer in answers} <= logged
    # FORWARDED_ALLOW_IPS='*' does not make gunicorn trust the client's part of the header.
    clients = {entry["request_id"]: entry["client"] for entry in entries if "client" in entry}
    assert clients[answers[4].headers["X-Request-ID"]] == "198.51.100.7"
    assert clients[answers[0].headers["X-Request-ID"]] == "127.0.0.1"
    paths = {entry["request_id"]: entry["path"] for entry in entries if "path" in entry}
    assert paths[answers[5].headers["X-Request-ID"]] == "/resources/data/1"
