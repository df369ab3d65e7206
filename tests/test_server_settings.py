"""gunicorn's checked-in settings, and a graceful stop that finishes accepted requests."""

import http.client
import json
import os
import runpy
import signal
from pathlib import Path

import psycopg
import pytest

from tests.conftest import make_token, migrate
from tests.deployment import (
    ROOT,
    platform_environment,
    procfile_processes,
    start_web,
    stop,
    wait_for_log,
)
from tests.helpers import poll
from tests.servers import free_port, wait_for_http

IN_FLIGHT = 6  # below 2 workers x 4 threads, so every connection is accepted at once


def load_settings(monkeypatch, **environ):
    for name in ("PORT", "WEB_CONCURRENCY", "GUNICORN_THREADS"):
        monkeypatch.delenv(name, raising=False)
    # Reading the file makes a metrics folder unless one is set; keep this process clean.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "unused-in-this-test")
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_defaults_suit_elastic_beanstalk_and_heroku(monkeypatch):
    settings = load_settings(monkeypatch)
    assert settings["bind"] == "0.0.0.0:8000"  # where Elastic Beanstalk's nginx proxies
    assert settings["workers"] == 2
    assert settings["wsgi_app"] == "api:create_app()"
    assert settings["timeout"] < 30 and settings["graceful_timeout"] < 30  # Heroku's limits
    # The app logs every request as one JSON line on stdout; gunicorn's own log is errors.
    assert settings["accesslog"] is None and settings["errorlog"] == "-"
    assert settings["worker_connections"] == settings["threads"]
    assert settings["control_socket_disable"] is True


def test_port_and_concurrency_come_from_the_environment(monkeypatch):
    settings = load_settings(monkeypatch, PORT="5123", WEB_CONCURRENCY="5")
    assert settings["bind"] == "0.0.0.0:5123"
    assert settings["workers"] == 5


@pytest.mark.parametrize("value", ["", "two", "0", "-3"])
def test_unusable_web_concurrency_falls_back_to_the_default(monkeypatch, value):
    assert load_settings(monkeypatch, WEB_CONCURRENCY=value)["workers"] == 2


def accept_queue_length(port):
    """Connections the kernel holds for the listener, not yet accepted (Linux only)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_address, state, queues = fields[1], fields[3], fields[4]
        if state == "0A" and int(local_address.rsplit(":", 1)[1], 16) == port:
            return int(queues.split(":")[1], 16)
    raise AssertionError(f"nothing listens on port {port}")


def wait_until_accepted(port, deadline_seconds=5):
    poll(lambda: accept_queue_length(port) == 0, deadline_seconds, "all connections accepted")


@pytest.mark.server
def test_sigterm_finishes_every_accepted_request(make_postgres_database, tmp_path, make_app):
    """Requests half sent when SIGTERM arrives are still answered in full."""
    database = make_postgres_database()
    migrate(database)
    app = make_app(database)
    token = make_token(app)
    port = free_port()
    env = platform_environment(
        tmp_path, APP_ENV="production", DATABASE_URL=database, PORT=str(port), WEB_CONCURRENCY="2"
    )
    process = start_web(procfile_processes(ROOT / "Procfile")["web"], env, tmp_path)
    try:
        wait_for_http(f"http://127.0.0.1:{port}", process)
        bodies = [
            json.dumps({"name": f"in flight {number}", "age": number, "locale": "NYC"}).encode()
            for number in range(IN_FLIGHT)
        ]
        connections = []
        for body in bodies:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.putrequest("PUT", "/resources/data")
            connection.putheader("Content-Type", "application/json")
            connection.putheader("Authorization", f"Bearer {token}")
            connection.putheader("X-Forwarded-Proto", "https")  # as the platform's proxy says
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders()
            connection.send(body[:10])
            connections.append(connection)
        wait_until_accepted(port)

        stop_signal_sent = start_stopping(process, tmp_path)
        assert "Handling signal: term" in stop_signal_sent
        assert process.poll() is None, "gunicorn quit with requests in flight"
        for connection, body in zip(connections, bodies, strict=True):
            connection.send(body[10:])
        responses = [connection.getresponse() for connection in connections]
        results = [(response.status, json.loads(response.read())) for response in responses]
    finally:
        stop(process)

    assert [status for status, _ in results] == [201] * IN_FLIGHT
    assert sorted(person["name"] for _, person in results) == [
        f"in flight {number}" for number in range(IN_FLIGHT)
    ]
    assert process.returncode == 0
    with psycopg.connect(database) as connection:
        stored = connection.execute("SELECT count(*) FROM people").fetchone()[0]
    assert stored == IN_FLIGHT


def start_stopping(process, log_folder):
    """Send SIGTERM to the whole process group, as both platforms do; return the log."""
    os.killpg(process.pid, signal.SIGTERM)
    return wait_for_log(log_folder / "stderr.log", "Handling signal: term")
