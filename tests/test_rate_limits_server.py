"""Rate limits shared through one real Redis by two gunicorn instances of three workers each."""

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from api.quota import block_size
from api.ratelimit import parse_limits
from tests.conftest import bearer, build_app, dispose, make_token, migrate
from tests.prometheus import samples, total
from tests.servers import gunicorn, request

pytestmark = pytest.mark.server

TOKEN_LIMIT = 30
FAILURE_LIMIT = 5
# Large enough for blocks of several requests (at 30 a minute, a worker leases one at a time).
BLOCKS_LIMIT = 192
WORKERS = 6


@pytest.fixture
def start_instances(make_database, redis_server, tmp_path):
    """`start_instances(token_limit)`: two gunicorn instances, 3 workers each, one database
    and one Redis; their URLs and a token."""
    with contextlib.ExitStack() as stack:

        def start(token_limit):
            database_url = make_database("sqlite")
            migrate(database_url)
            app = build_app(database_url)
            token = make_token(app)
            dispose(app)
            env = {
                "REDIS_URL": redis_server.url,
                "RATE_LIMIT": f"{token_limit}/minute",
                "AUTH_FAILURE_RATE_LIMIT": f"{FAILURE_LIMIT}/minute",
                "METRICS_OPEN": "1",
            }
            urls = [
                stack.enter_context(
                    gunicorn(database_url, tmp_path / f"{name}.log", workers=3, env=env)
                )
                for name in ("one", "two")
            ]
            return urls, token

        yield start


@pytest.fixture
def instances(start_instances):
    return start_instances(TOKEN_LIMIT)


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


def test_blocks_leased_by_every_worker_never_exceed_the_limit_in_sum(start_instances, redis_server):
    urls, token = start_instances(BLOCKS_LIMIT)
    block = block_size(parse_limits(f"{BLOCKS_LIMIT}/minute")[0])
    assert block > 1
    answers = send_spread(urls, BLOCKS_LIMIT + 100, bearer(token))
    served = [answer.status for answer in answers].count(404)
    # Never looser; stricter at most by what the other workers leased and have not used.
    assert BLOCKS_LIMIT - (WORKERS - 1) * (block - 1) <= served <= BLOCKS_LIMIT
    assert {answer.status for answer in answers} == {404, 429}
    store = redis.Redis.from_url(redis_server.url)
    (key,) = store.keys("people-api:LIMITER/token/*")
    assert int(store.get(key)) <= BLOCKS_LIMIT
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
