"""Several instances on a database that allows 20 connections, sized as the README says."""

import os
import subprocess
import sys
import time
from contextlib import ExitStack

import psycopg
import pytest

from tests.conftest import bearer, build_app, dispose, make_token, migrate
from tests.database_servers import private_postgres
from tests.helpers import end_postgres_sessions, poll
from tests.load import mixed_load
from tests.servers import ROOT, gunicorn, request

pytestmark = pytest.mark.server

# The README's row for four web dynos on Heroku's essential-0 (20 connections).
INSTANCES, WORKERS, POOL_SIZE = 4, 2, 2


def app_connections(admin):
    """Connections of the app's role that the app made (others name themselves)."""
    return admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = 'people' AND application_name = ''"
    ).fetchone()[0]


def people_connections(admin):
    return admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = 'people'"
    ).fetchone()[0]


def test_four_instances_share_a_20_connection_database(tmp_path):
    """All four loaded at once: no 5xx, never more than 16 connections; the release
    command still connects; with every connection taken, requests get 503s, not 500s."""
    with private_postgres(app_connections=20) as cluster:
        url = cluster.app_url
        migrate(url)
        app = build_app(url)
        # As the platform's proxy tells of an HTTPS request (production refuses plain HTTP).
        headers = {**bearer(make_token(app)), "Content-Type": "application/json"}
        headers["X-Forwarded-Proto"] = "https"
        dispose(app)  # before the load: the count below is the instances' connections alone
        environment = {
            "DATABASE_POOL_SIZE": str(POOL_SIZE),
            "APP_ENV": "production",
            # The load is one token's, well over production's default per-token limit.
            "RATE_LIMIT": "off",
            "PROMETHEUS_MULTIPROC_DIR": "",
        }
        with ExitStack() as servers:
            base_urls = [
                servers.enter_context(
                    gunicorn(url, tmp_path / f"instance-{n}.log", WORKERS, environment)
                )
                for n in range(INSTANCES)
            ]
            statuses = []
            threads = [
                thread
                for base_url in base_urls
                for thread in mixed_load(base_url, headers, 4, 4, statuses)
            ]
            most = 0
            while any(thread.is_alive() for thread in threads):
                most = max(most, app_connections(cluster.admin))
                time.sleep(0.05)
            assert statuses and all(status < 500 for status in statuses), sorted(set(statuses))
            assert set(statuses) <= {200, 201, 404}
            assert 0 < most <= INSTANCES * WORKERS * POOL_SIZE

            # The release phase (and any one-off command) finds a free connection.
            upgrade = subprocess.run(
                [sys.executable, "-m", "flask", "--app", "api", "db", "upgrade"],
                cwd=ROOT,
                env={**os.environ, "DATABASE_URL": url},
                capture_output=True,
                timeout=60,
            )
            assert upgrade.returncode == 0, upgrade.stderr

            # Every connection taken by others: the database refuses the app's next one.
            end_postgres_sessions(cluster.admin, "usename = 'people'")
            poll(lambda: people_connections(cluster.admin) == 0, 10, "not terminated")
            held = []
            try:
                while True:
                    try:
                        held.append(psycopg.connect(url, application_name="holder"))
                    except psycopg.OperationalError:
                        break
                assert len(held) == 20
                for base_url in base_urls:
                    refused = request(base_url, "GET", "/resources/data/1", None, headers)
                    assert refused.status == 503, refused.body
                    assert refused.headers["Content-Type"] == "application/problem+json"
                    assert refused.headers["Retry-After"] == "1"
            finally:
                for connection in held:
                    connection.close()
            # Back by themselves once the database takes connections again: a closed
            # connection's server process frees its slot a moment after the close returns,
            # so the first request may still find the database full (another 503).
            for base_url in base_urls:
                poll(
                    lambda base_url=base_url: request(
                        base_url, "GET", "/resources/data/1", None, headers
                    ).status
                    == 200,
                    10,
                    f"{base_url} answering 200 again",
                )
