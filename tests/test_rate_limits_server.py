"""Rate limits shared through one real Redis by two gunicorn instances of three workers each."""

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from tests.conftest import bearer, build_app, dispose, make_token, migrate
from tests.prometheus import samples, total
from tests.redis_server import RedisServer
from tests.servers import gunicorn, request

pytestmark = pytest.mark.server

TOKEN_LIMIT = 30
FAILURE_LIMIT = 5


@pytest.fixture
def redis_server():
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def instances(make_database, redis_server, tmp_path):
    """Two gunicorn instances, 3 workers each, one database and one Redis; and a token."""
    database_url = make_database("sqlite")
    migrate(database_url)
    app = build_app(database_url)
    token = make_token(app)
    dispose(app)
    env = {
        "REDIS_URL": redis_server.url,
        "RATE_LIMIT": f"{TOKEN_LIMIT}/minute",
        "AUTH_FAILURE_RATE_LIMIT": f"{FAILURE_LIMIT}/minute",
        "METRICS_OPEN": "1",
    }
    with contextlib.ExitStack() as stack:
        urls = [
            stack.enter_context(
                gunicorn(database_url, tmp_path / f"{name}.log", workers=3, env=env)
            )
            for name in ("one", "two")
        ]
        yield urls, token


def send_spread(urls, count, headers):
    """`count` GETs, alternating between the instances, 8 at a time: a worker takes at most
    4 connections at once (gunicorn.conf.py), so each instance spreads them over workers."""

    def send(number):
        return request(urls[number % 2], "GET", "/resources/data/1", headers=headers)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(send, range(count)))


def test_the_limit_holds_for_the_sum_of_every_worker_and_instance(instances, redis_server):
    """Six processes counting alone would let all 50 through (each sees at most 25)."""
    urls, token = instances
    answers = send_spread(urls, TOKEN_LIMIT + 20, bearer(token))
    statuses = sorted(answer.status for answer in answers)
    assert statuses == [404] * TOKEN_LIMIT + [429] * 20
    refused = next(answer for answer in answers if answer.status == 429)
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.headers["X-RateLimit-Limit"] == str(TOKEN_LIMIT)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # Every counter ends with its window: none is left without an expiry.
    store = redis.Redis.from_url(redis_server.url)
    keys = store.keys("people-api:*")
    assert keys and all(0 < store.ttl(key) <= 60 for key in keys)
    store.close()


def test_failed_authentications_are_limited_across_instances(instances):
    urls, token = instances
    answers = send_spread(urls, FAILURE_LIMIT + 5, bearer("pplapi_guess"))
    assert sorted(answer.status for answer in answers) == [401] * FAILURE_LIMIT + [429] * 5
    # Now even the right token is not looked up from this address, on either instance.
    assert {
        request(url, "GET", "/resources/data/1", headers=bearer(token)).status for url in urls
    } == {429}


def test_the_service_keeps_answering_when_redis_stops(instances, redis_server):
    urls, token = instances
    assert {answer.status for answer in send_spread(urls, 6, bearer(token))} == {404}
    redis_server.stop()
    started = time.monotonic()
    answers = send_spread(urls, 40, bearer(token))
    seconds = time.monotonic() - started
    assert {answer.status for answer in answers} == {404}  # fail open: served, unchecked
    # A failed check waits at most the store's timeout, then the worker leaves Redis alone.
    assert seconds < 20
    skipped = [
        total(
            samples(request(url, "GET", "/metrics").body.decode()),
            "people_api_rate_limit_store_errors_total",
        )
        for url in urls
    ]
    assert sum(skipped) >= 40  # every unchecked request is counted, on each instance
    assert all(count > 0 for count in skipped)
