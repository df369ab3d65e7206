"""/metrics in one process: the token, labels by route template, the service's counters."""

import os
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest

from api import __version__
from api.models import utcnow
from tests.conftest import bearer, make_token
from tests.prometheus import label_values, samples, total
from tests.servers import ROOT
from tests.test_auth import assert_unauthorized
from tests.test_people import PETER, assert_problem

REQUESTS = "people_api_http_requests_total"
PERSON_ROUTE = "/resources/data/<id:person_id>"


def scrape(app):
    secret = make_token(app, f"prometheus-{uuid.uuid4().hex[:8]}", "metrics")
    response = app.test_client().get("/metrics", headers=bearer(secret))
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return samples(response.text)


def test_metrics_need_a_token_with_the_metrics_role(app):
    client = app.test_client()
    assert_unauthorized(client.get("/metrics"))
    assert_unauthorized(client.get("/metrics", headers=bearer("pplapi_nope")), "invalid_token")
    for role in ("read", "write"):
        response = client.get("/metrics", headers=bearer(make_token(app, role, role)))
        assert_problem(response, 403)
    response = client.get("/metrics", headers=bearer(make_token(app, "prometheus", "metrics")))
    assert response.status_code == 200 and REQUESTS in response.text


def test_metrics_can_be_left_open(database_url, make_app):
    app = make_app(database_url, METRICS_OPEN=True)
    assert app.test_client().get("/metrics").status_code == 200


def test_requests_are_labelled_by_route_template_method_and_status(app, client):
    assert client.put("/resources/data/", json=PETER).status_code == 201
    for person_id in range(1, 30):
        client.get(f"/resources/data/{person_id}")
    for path in ("/nope", "/resources/data/abc", "/resources/data/99999999999", "/x/y/z"):
        assert client.get(path).status_code == 404
    assert client.post("/resources/data/").status_code == 405
    assert client.open("/resources/data/1", method="BREW").status_code == 405
    scraped = scrape(app)
    assert total(scraped, REQUESTS, route=PERSON_ROUTE, method="GET", status="200") == 1
    assert total(scraped, REQUESTS, route=PERSON_ROUTE, method="GET", status="404") == 28
    assert total(scraped, REQUESTS, route="unmatched", status="404") == 4
    assert total(scraped, REQUESTS, route="unmatched", status="405") == 2
    assert label_values(scraped, REQUESTS, "route") == {
        "/resources/data/",
        PERSON_ROUTE,
        "unmatched",
    }
    assert label_values(scraped, REQUESTS, "method") == {"PUT", "GET", "POST", "other"}
    assert total(scraped, REQUESTS) == 36
    latency = "people_api_http_request_duration_seconds_count"
    assert total(scraped, latency, route=PERSON_ROUTE, method="GET") == 29


def test_probes_and_scrapes_are_not_api_traffic(app):
    client = app.test_client()
    for path in ("/healthz", "/readyz", "/healthz"):
        assert client.get(path).status_code == 200
    scrape(app)
    assert total(scrape(app), REQUESTS) == 0


def test_people_changes_are_counted(app, client):
    def changes():
        scraped = scrape(app)
        return {
            kind: total(scraped, "people_api_people_changes_total", change=kind)
            for kind in ("created", "replaced", "patched", "deleted")
        }

    assert changes() == {"created": 0, "replaced": 0, "patched": 0, "deleted": 0}
    for _ in range(3):
        client.put("/resources/data/", json=PETER)
    client.put("/resources/data/1", json=PETER)
    client.delete("/resources/data/2")
    client.put("/resources/data/", json={"name": ""})  # refused: not a change
    client.delete("/resources/data/99")  # no such person: not a change
    client.put("/resources/data/2", json=PETER)  # deleted before: not a change either
    client.patch("/resources/data/3", json={"age": 1})
    client.patch("/resources/data/3", json={})  # an empty patch changes nothing
    client.put("/resources/data/", json=PETER, headers={"Idempotency-Key": "k"})
    client.put("/resources/data/", json=PETER, headers={"Idempotency-Key": "k"})  # a replay
    assert changes() == {"created": 4, "replaced": 1, "patched": 1, "deleted": 1}


def test_auth_failures_are_counted_by_reason(app):
    client = app.test_client()
    expired = make_token(app, "old", "write", expires_at=utcnow() - timedelta(seconds=1))
    attempts = {
        "missing": {},
        "malformed": {"Authorization": "Basic cGV0ZXI6c2VjcmV0"},
        "unknown": bearer("pplapi_" + "x" * 43),
        "expired": bearer(expired),
        "insufficient_scope": bearer(make_token(app, "reader", "read")),
    }
    for headers in attempts.values():
        client.put("/resources/data/", json=PETER, headers=headers)
    client.get("/metrics")  # a scrape without a token counts too
    scraped = scrape(app)
    counted = {
        reason: total(scraped, "people_api_auth_failures_total", reason=reason)
        for reason in attempts
    }
    assert counted == {**dict.fromkeys(attempts, 1), "missing": 2}


def test_database_errors_and_the_info_metric(tmp_path, make_app):
    app = make_app("postgresql://postgres@127.0.0.1:1/none", METRICS_OPEN=True)
    client = app.test_client()
    assert client.get("/resources/data/1", headers=bearer("pplapi_any")).status_code == 503
    assert client.get("/readyz").status_code == 503
    scraped = samples(client.get("/metrics").text)
    assert total(scraped, "people_api_database_errors_total") == 2
    info = {"version": __version__, "database": "postgresql"}
    assert total(scraped, "people_api_info", **info) == 1


def test_apps_side_by_side_count_apart(database_url, tmp_path, make_app):
    first, second = make_app(database_url), make_app(database_url)
    first.test_client().get("/nope")
    assert total(scrape(first), REQUESTS) == 1
    assert total(scrape(second), REQUESTS) == 0


@pytest.mark.server
def test_the_cli_starts_with_or_without_a_multiprocess_folder(database_url, tmp_path):
    """The release phase or an operator's shell may carry gunicorn's variable, or not."""
    command = [sys.executable, "-m", "flask", "--app", "api", "tokens", "list"]
    base = {**os.environ, "DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path)}
    base.pop("PROMETHEUS_MULTIPROC_DIR", None)
    missing = tmp_path / "not-made-yet"
    for extra in ({}, {"PROMETHEUS_MULTIPROC_DIR": str(missing)}):
        completed = subprocess.run(
            command, cwd=ROOT, env={**base, **extra}, capture_output=True, timeout=60
        )
        assert completed.returncode == 0, completed.stderr.decode()
