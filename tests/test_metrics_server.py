"""Metrics from a real 3-worker gunicorn, read by promtool and by a real Prometheus."""

import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.conftest import bearer, make_token
from tests.helpers import poll
from tests.prometheus import (
    adapted_scrape_config,
    api_get,
    label_values,
    prometheus_server,
    promtool,
    samples,
    total,
)
from tests.servers import gunicorn, request
from tests.test_monitoring import dashboard_panels

pytestmark = pytest.mark.server  # every test here starts a real process

WORKERS = 3
REQUESTS = "people_api_http_requests_total"
PERSON_ROUTE = "/resources/data/<id:person_id>"


class Server:
    """A running gunicorn, the tokens to use it, and the folder its workers count in."""

    def __init__(self, base_url, write_token, metrics_token, metrics_folder):
        self.base_url = base_url
        self.write_token = write_token
        self.metrics_token = metrics_token
        self.metrics_folder = metrics_folder

    def send(self, method, path, body=None):
        headers = {**bearer(self.write_token), "Content-Type": "application/json"}
        return request(self.base_url, method, path, body, headers).status

    def send_all(self, calls):
        """Send (method, path, body) calls from many threads at once, so every worker serves."""
        with ThreadPoolExecutor(max_workers=4 * WORKERS) as pool:
            return list(pool.map(lambda call: self.send(*call), calls))

    def scrape_text(self):
        response = request(self.base_url, "GET", "/metrics", headers=bearer(self.metrics_token))
        assert response.status == 200
        return response.body.decode()

    def requests_by_worker(self):
        """{worker pid: requests counted}, read from each worker's own file."""
        counts = {}
        for path in self.metrics_folder.glob("counter_*.db"):
            families = MultiProcessCollector.merge([str(path)])
            counts[int(path.stem.removeprefix("counter_"))] = sum(
                sample.value
                for family in families
                for sample in family.samples
                if sample.name == REQUESTS
            )
        return counts


def gunicorn_workers(base_url):
    """The pids of the workers of the gunicorn bound to base_url, from /proc."""
    bind = base_url.removeprefix("http://").encode()
    processes = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and bind in (entry / "cmdline").read_bytes():
                stat = (entry / "stat").read_text()
                processes[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        except OSError:
            continue  # the process has just exited
    return {pid for pid, parent in processes.items() if parent in processes}


@pytest.fixture
def server(app, database_url, tmp_path):
    metrics_folder = tmp_path / "metrics"
    metrics_folder.mkdir()
    # Left by an earlier run: it must be gone before the workers start, or counts are wrong.
    (metrics_folder / "counter_1.db").write_bytes(b"stale")
    write_token = make_token(app, "writer", "write")
    metrics_token = make_token(app, "prometheus", "metrics")
    environment = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_folder)}
    log = tmp_path / "gunicorn.log"
    with gunicorn(database_url, log, workers=WORKERS, env=environment) as base_url:
        yield Server(base_url, write_token, metrics_token, metrics_folder)


def people_traffic(count):
    """count requests: creates, then reads of what was created (and a few misses)."""
    person = json.dumps({"name": "peter", "age": 42, "locale": "NYC"})
    creates = [("PUT", "/resources/data/", person)] * (count // 4)
    reads = [("GET", f"/resources/data/{number % 40 + 1}", None) for number in range(count)]
    return creates + reads[: count - len(creates)]


def test_counts_add_up_over_workers_and_survive_a_recycled_worker(server):
    first = people_traffic(300)
    assert 201 in server.send_all(first)
    by_worker = server.requests_by_worker()
    assert sum(by_worker.values()) == 300
    assert len([pid for pid, count in by_worker.items() if count]) >= 2, by_worker

    scraped = samples(server.scrape_text())
    assert total(scraped, REQUESTS) == 300
    assert total(scraped, "people_api_people_changes_total", change="created") == 75

    workers = gunicorn_workers(server.base_url)
    assert len(workers) == WORKERS
    victim = max(workers, key=lambda pid: by_worker.get(pid, 0))
    os.kill(victim, signal.SIGKILL)
    replaced = poll(
        lambda: (now := gunicorn_workers(server.base_url)) - workers and len(now) == WORKERS,
        30,
        "gunicorn replaces the killed worker",
        ignore=(OSError,),
    )
    assert replaced and victim not in gunicorn_workers(server.base_url)

    server.send_all(people_traffic(120))
    text = server.scrape_text()
    assert total(samples(text), REQUESTS) == 420
    assert total(samples(text), "people_api_people_changes_total", change="created") == 105
    status, output = promtool("check", "metrics", stdin=text)
    assert status == 0 and output == "", output


def test_a_thousand_ids_make_one_series(server):
    statuses = server.send_all(
        [("GET", f"/resources/data/{number}", None) for number in range(1000)]
    )
    statuses += server.send_all([("GET", f"/junk/{number}", None) for number in range(100)])
    assert set(statuses) == {404}
    scraped = samples(server.scrape_text())
    assert total(scraped, REQUESTS, route=PERSON_ROUTE, status="404") == 1000
    assert total(scraped, REQUESTS, route="unmatched", status="404") == 100
    assert label_values(scraped, REQUESTS, "route") == {PERSON_ROUTE, "unmatched"}
    assert len([name for name, _ in scraped if name == REQUESTS]) == 2
    buckets = "people_api_http_request_duration_seconds_bucket"
    assert label_values(scraped, buckets, "route") == {PERSON_ROUTE, "unmatched"}


def test_a_real_prometheus_scrapes_the_shipped_config(server, tmp_path):
    server.send_all(people_traffic(200))
    token_file = tmp_path / "prometheus-token"
    token_file.write_text(server.metrics_token + "\n")
    target = server.base_url.removeprefix("http://")
    config = adapted_scrape_config(target, token_file)
    with prometheus_server(tmp_path / "prometheus", config) as prometheus:

        def query(expression):
            answer = api_get(prometheus, "/api/v1/query", query=expression)
            assert answer["status"] == "success", answer
            return answer["data"]["result"]

        def value(expression):
            result = query(expression)
            return float(result[0]["value"][1]) if result else None

        def target_health():
            active = api_get(prometheus, "/api/v1/targets")["data"]["activeTargets"]
            return active and active[0]["health"] == "up" and active[0]

        up = poll(target_health, 30, "the target is up", ignore=(OSError,))
        assert up["labels"] == {"instance": target, "job": "people-api"}
        assert value('up{job="people-api"}') == 1
        poll(
            lambda: value(f"sum({REQUESTS})") == 200,
            30,
            "Prometheus has the request count",
            ignore=(OSError,),
        )
        assert value('sum(people_api_info{database=~"sqlite|postgresql"})') == 1

        # Every dashboard query is valid PromQL, run as Grafana would run it.
        for panel in dashboard_panels():
            for target_query in panel["targets"]:
                expression = target_query["expr"].replace("$job", "people-api")
                query(expression.replace("$__rate_interval", "1m"))
        rules = api_get(prometheus, "/api/v1/rules")["data"]["groups"][0]["rules"]
        assert len(rules) == 3
