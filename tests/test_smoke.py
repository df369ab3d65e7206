"""`python3 dev.py smoke URL`: the operator's after-deploy check, against a live gunicorn."""

import os
import subprocess
import sys

import pytest

from tests.conftest import bearer, make_token
from tests.servers import ROOT, gunicorn, request

pytestmark = pytest.mark.server


def smoke(base_url, **environment):
    return subprocess.run(
        [sys.executable, "dev.py", "smoke", base_url],
        cwd=ROOT,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_smoke_checks_an_instance_and_leaves_nothing_behind(make_app, database_url, tmp_path):
    app = make_app(database_url)
    token, metrics_token = make_token(app), make_token(app, "scraper", role="metrics")
    with gunicorn(database_url, tmp_path / "server.log") as base_url:
        run = smoke(base_url, PEOPLE_API_TOKEN=token, PEOPLE_API_METRICS_TOKEN=metrics_token)
        assert run.returncode == 0, run.stdout + run.stderr
        checked = [line for line in run.stdout.splitlines() if line.startswith("ok ")]
        for what in ("/healthz", "/readyz", "PUT", "PATCH", "DELETE", "404", "/metrics"):
            assert any(what in line for line in checked), (what, run.stdout)
        left = request(base_url, "GET", "/resources/data", headers=bearer(token)).json()
        assert left["items"] == []  # its test person is gone, nothing else was touched


def test_smoke_fails_with_what_failed(make_app, database_url, tmp_path):
    app = make_app(database_url)
    token = make_token(app, "reader", role="read")  # may not create
    with gunicorn(database_url, tmp_path / "server.log") as base_url:
        run = smoke(base_url, PEOPLE_API_TOKEN=token)
        assert run.returncode == 1
        assert "ok   GET /readyz is 200 ready" in run.stdout
        assert "FAIL PUT /resources/data" in run.stdout and "got 403" in run.stdout
        unreachable = smoke("http://127.0.0.1:9", PEOPLE_API_TOKEN=token)
        assert unreachable.returncode == 1
        assert "FAIL GET /healthz: no answer" in unreachable.stdout
    assert smoke(base_url).returncode != 0  # no token: a usage message, nothing sent
