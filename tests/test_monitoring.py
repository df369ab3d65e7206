"""The shipped monitoring files: rules that promtool accepts and that fire, a dashboard and
alerts that only name metrics the app really exports."""

import json
import re

import pytest

from tests.conftest import bearer, make_token
from tests.prometheus import MONITORING, adapted_scrape_config, promtool, samples
from tests.test_people import PETER

pytestmark = pytest.mark.server  # every test here starts a real process

METRIC_NAME = re.compile(r"\bpeople_api_\w+")


def test_alerting_rules_are_valid_and_fire(tmp_path):
    status, output = promtool("check", "rules", "alerts.yml")
    assert status == 0 and "SUCCESS: 3 rules found" in output, output
    status, output = promtool("test", "rules", "alerts_test.yml")
    assert status == 0 and "SUCCESS" in output, output


def test_scrape_config_is_valid(tmp_path):
    (tmp_path / "token").write_text("pplapi_placeholder\n")
    config = adapted_scrape_config("127.0.0.1:8000", tmp_path / "token")
    (tmp_path / "prometheus.yml").write_text(config)
    (tmp_path / "alerts.yml").write_text((MONITORING / "alerts.yml").read_text())
    status, output = promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert status == 0, output
    assert "pplapi_" not in (MONITORING / "prometheus.yml").read_text()


def dashboard_panels():
    return json.loads((MONITORING / "grafana-dashboard.json").read_text())["panels"]


def exported_names(app):
    """Every sample name in a scrape, after requests that give every labelled series a value."""
    client = app.test_client()
    writer = bearer(make_token(app, "writer", "write"))
    client.put("/resources/data/", json=PETER, headers=writer)
    client.get("/resources/data/1")
    response = client.get("/metrics", headers=bearer(make_token(app, "prometheus", "metrics")))
    return {name for name, _ in samples(response.text)}


def test_dashboard_and_alerts_name_only_exported_metrics(app):
    panels = dashboard_panels()
    assert {"Request rate by route", "Error ratio", "Latency percentiles by route"} <= {
        panel["title"] for panel in panels
    }
    queries = [target["expr"] for panel in panels for target in panel["targets"]]
    in_dashboard = {name for query in queries for name in METRIC_NAME.findall(query)}
    in_alerts = set(METRIC_NAME.findall((MONITORING / "alerts.yml").read_text()))
    exported = exported_names(app)
    assert in_dashboard - exported == set()
    assert in_alerts - exported == set()
    assert {
        "people_api_http_requests_total",
        "people_api_http_request_duration_seconds_bucket",
        "people_api_people_changes_total",
        "people_api_auth_failures_total",
        "people_api_database_errors_total",
        "people_api_info",
    } <= in_dashboard
