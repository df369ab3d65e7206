"""Prometheus metrics: requests by route template, the service's own counters, /metrics.

Under gunicorn, PROMETHEUS_MULTIPROC_DIR (set by gunicorn.conf.py before any worker imports
prometheus_client) makes every worker write its numbers to files there, and a scrape adds
up the files of every worker, dead ones included. Elsewhere the numbers live in the process.
"""

import os

from flask import current_app
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_flask_exporter import PrometheusMetrics

import api
from api.extensions import auth, db

# Every URL that no route answers (404, and 405 for a wrong method) is counted under this
# one value, so random URLs cannot make new series; real route templates start with "/".
UNMATCHED = "unmatched"
# Probes and scrapes are not API traffic.
UNTRACKED_ROUTES = frozenset({"/metrics", "/healthz", "/readyz"})
# gunicorn accepts any upper-case word as a method; the others share one label value.
METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "POST", "PATCH", "OPTIONS"})
CHANGES = ("created", "replaced", "patched", "deleted")
# The reasons api/auth.py notes for a refused request.
AUTH_FAILURE_REASONS = ("missing", "malformed", "unknown", "expired", "insufficient_scope")
# From 1 ms (a cached read) to gunicorn's 25 s timeout.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25)


class AppMetrics:
    """One app's metrics, in a registry of its own: apps built side by side never collide."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "people_api_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "people_api_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ("route", "method"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        changes = Counter(
            "people_api_people_changes",
            "People created, replaced or deleted.",
            ("change",),
            registry=self.registry,
        )
        auth_failures = Counter(
            "people_api_auth_failures",
            "Requests refused by token authentication, by reason.",
            ("reason",),
            registry=self.registry,
        )
        self.database_errors = Counter(
            "people_api_database_errors",
            "Requests answered 503 because the database was unreachable or busy.",
            registry=self.registry,
        )
        self.rate_limit_store_errors = Counter(
            "people_api_rate_limit_store_errors",
            "Rate-limit checks skipped because the store (Redis) failed or was paused after "
            "a failure: those requests were served unchecked.",
            registry=self.registry,
        )
        # Children made up front: every series exists (at 0) from the first scrape on.
        self.changes = {change: changes.labels(change) for change in CHANGES}
        self.auth_failures = {
            reason: auth_failures.labels(reason) for reason in AUTH_FAILURE_REASONS
        }
        # (route, method, status) -> (counter, histogram) children: label values are bounded,
        # and a dictionary look-up is cheaper than .labels() on every request.
        self.series = {}

    def record_request(self, route, method, status, seconds, auth_failure):
        """Count one answered request (api/access.py calls this for every request).

        `route` is the matched route's template, or None when no route matched.
        """
        if auth_failure in self.auth_failures and status in (401, 403):
            self.auth_failures[auth_failure].inc()
        if route is None:
            route = UNMATCHED
        elif route in UNTRACKED_ROUTES:
            return
        if method not in METHODS:
            method = "other"
        key = (route, method, status)
        series = self.series.get(key)
        if series is None:
            series = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
            self.series[key] = series
        series[0].inc()
        series[1].observe(seconds)


class Metrics:
    """The metrics extension: created unbound below, bound to an app in the factory."""

    def init_app(self, app):
        # A variable for another process (the CLI, a release phase) must not stop this one.
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
        state = AppMetrics()
        app.extensions["metrics"] = state
        guard = None if app.config["METRICS_OPEN"] else auth.login_required(role="metrics")
        exporter = PrometheusMetrics(
            None, path=None, export_defaults=False, registry=state.registry, metrics_decorator=guard
        )
        # The exporter serves the scrape: all workers' files under gunicorn, else this registry.
        exporter.register_endpoint("/metrics", app)
        with app.app_context():
            dialect = db.engine.dialect.name
        exporter.info(
            "people_api_info",
            "The running version and database dialect.",
            version=api.__version__,
            database=dialect,
        )

    def count_change(self, change, people=1):
        """Count people created, replaced or deleted (after the commit)."""
        current_app.extensions["metrics"].changes[change].inc(people)

    def count_database_error(self):
        current_app.extensions["metrics"].database_errors.inc()


metrics = Metrics()
