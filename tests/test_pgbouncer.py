"""Through PgBouncer in transaction mode, as Heroku's connection pooling runs it."""

import pytest
import sqlalchemy as sa

from tests.conftest import bearer
from tests.contract import JSON, drive_contract
from tests.database_servers import pgbouncer
from tests.load import mixed_load
from tests.servers import gunicorn, request

pytestmark = pytest.mark.server


def through(port, url):
    """The same database, reached through the pooler on `port`."""
    return sa.make_url(url).set(host="127.0.0.1", port=port).render_as_string(False)


def test_contract_and_a_mixed_load_through_a_transaction_pooler(postgres_database, tmp_path):
    """With DATABASE_POOLER=transaction: the README's contract, then 4 s of reads,
    creates and replaces from 8 clients over a pool of 4 server connections: no 5xx."""
    url, _, token = postgres_database
    with pgbouncer(sa.make_url(url).port, pool_size=4) as port:
        environment = {"DATABASE_POOLER": "transaction"}
        with gunicorn(through(port, url), tmp_path / "gunicorn.log", 2, environment) as base_url:
            drive_contract(base_url, bearer(token))
            statuses = []
            for thread in mixed_load(base_url, {**bearer(token), **JSON}, 4, 8, statuses):
                thread.join(60)
            ready = request(base_url, "GET", "/readyz")
    assert len(statuses) > 200
    assert set(statuses) <= {200, 201, 404}, sorted(set(statuses))
    assert ready.status == 200


def test_without_the_setting_the_pooler_refuses_the_app_with_503s(postgres_database, tmp_path):
    """PgBouncer refuses the `options` startup parameter that carries the app's timeouts:
    every request then gets a 503 problem document (the README says to set the setting)."""
    url, _, token = postgres_database
    with pgbouncer(sa.make_url(url).port) as port:
        with gunicorn(through(port, url), tmp_path / "gunicorn.log", 1) as base_url:
            refused = request(base_url, "GET", "/resources/data/1", headers=bearer(token))
    assert refused.status == 503
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.headers["Retry-After"] == "1"
