"""Blocks of a token's quota leased from a real Redis: apps built side by side stand for the
workers of several instances; and Redis over TLS (rediss://)."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from api.quota import block_size
from api.ratelimit import parse_limits
from tests.conftest import bearer, make_token
from tests.helpers import poll
from tests.prometheus import samples, total
from tests.redis_server import RedisServer
from tests.test_people import COLLECTION
from tests.test_rate_limits import assert_too_many

pytestmark = pytest.mark.server

PERSON = f"{COLLECTION}1"


@pytest.fixture
def workers(make_app, sqlite_database, redis_server):
    """`workers(count, limit)`: that many apps counting in one Redis, and a token of theirs."""

    def make(count, limit, **settings):
        apps = [
            make_app(sqlite_database, RATE_LIMIT=limit, REDIS_URL=redis_server.url, **settings)
            for _ in range(count)
        ]
        return apps, make_token(apps[0])

    return make


def script_calls(url):
    """Scripts Redis has run: one per lease (or per count of a failed authentication)."""
    store = redis.Redis.from_url(url)
    stats = store.info("commandstats")
    store.close()
    return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("eval", "evalsha"))


def test_workers_never_exceed_the_limit_in_sum_and_rarely_ask_redis(workers, redis_server):
    """Four workers, two threads each, send 400 requests of one token against 200 a minute."""
    limit, count = 200, 4
    apps, token = workers(count, f"{limit}/minute")
    block = block_size(parse_limits(f"{limit}/minute")[0])
    assert block > 1
    calls_before = script_calls(redis_server.url)
    start = threading.Barrier(2 * count)

    def send(number):
        client = apps[number % count].test_client()
        start.wait()
        return [client.get(PERSON, headers=bearer(token)).status_code for _ in range(50)]

    with ThreadPoolExecutor(max_workers=2 * count) as pool:
        statuses = [status for batch in pool.map(send, range(2 * count)) for status in batch]
    served, refused = statuses.count(404), statuses.count(429)
    assert served + refused == 400
    # Never looser; stricter at most by the quota the other workers leased and left unused.
    assert limit - (count - 1) * (block - 1) <= served <= limit
    store = redis.Redis.from_url(redis_server.url)
    (key,) = store.keys("people-api:LIMITER/token/*")
    assert int(store.get(key)) <= limit and 0 < store.ttl(key) <= 60
    store.close()
    # One lease serves several requests; a refused request, once Redis has said the window
    # is used up, asks nothing.
    assert script_calls(redis_server.url) - calls_before < served / 3


def test_a_block_left_when_its_window_ends_is_not_used_in_the_next(workers, redis_server):
    """Worker one holds most of a block when the window ends; worker two then uses up the
    next window. What worker one held belonged to the old window: it must now refuse."""
    (one, two), token = workers(2, "64 per 4 seconds")
    assert block_size(parse_limits("64 per 4 seconds")[0]) == 4
    assert one.test_client().get(PERSON, headers=bearer(token)).status_code == 404
    store = redis.Redis.from_url(redis_server.url)
    (key,) = store.keys("people-api:LIMITER/token/*")
    assert int(store.get(key)) == 4  # one block leased, one request of it used
    poll(lambda: not store.exists(key), 10, "the window's end")
    client = two.test_client()
    statuses = [client.get(PERSON, headers=bearer(token)).status_code for _ in range(65)]
    assert statuses == [404] * 64 + [429]
    retry_after = assert_too_many(one.test_client().get(PERSON, headers=bearer(token)))
    assert retry_after <= 4
    assert int(store.get(key)) == 64
    store.close()
    time.sleep(retry_after)  # what the header tells a client to do: then a new window
    assert one.test_client().get(PERSON, headers=bearer(token)).status_code == 404


@pytest.fixture
def tls_redis(tmp_path):
    server = RedisServer(tls_folder=tmp_path)
    server.start()
    yield server
    server.stop()


def tls_statuses(make_app, sqlite_database, url, token_name="tests", **settings):
    """A new token's four GETs against 3 a minute, and how many went unchecked."""
    app = make_app(
        sqlite_database, RATE_LIMIT="3/minute", REDIS_URL=url, METRICS_OPEN=True, **settings
    )
    token = make_token(app, token_name)
    client = app.test_client()
    statuses = [client.get(PERSON, headers=bearer(token)).status_code for _ in range(4)]
    store_errors = total(
        samples(client.get("/metrics").get_data(as_text=True)),
        "people_api_rate_limit_store_errors_total",
    )
    return statuses, store_errors


def test_limits_count_in_redis_over_tls_with_its_ca_in_the_url(
    make_app, sqlite_database, tls_redis
):
    url = f"{tls_redis.url}?ssl_ca_certs={tls_redis.certificate}"
    assert tls_statuses(make_app, sqlite_database, url) == ([404, 404, 404, 429], 0)
    store = redis.Redis.from_url(url)
    assert store.keys("people-api:LIMITER/token/*")  # counted in that Redis
    store.close()


def test_limits_over_tls_without_checking_the_certificate(make_app, sqlite_database, tls_redis):
    """As on Heroku, whose Redis has a self-signed certificate: either way of saying it."""
    assert tls_statuses(make_app, sqlite_database, tls_redis.url, REDIS_VERIFY_TLS=False) == (
        [404, 404, 404, 429],
        0,
    )
    url = f"{tls_redis.url}?ssl_cert_reqs=none"
    assert tls_statuses(make_app, sqlite_database, url, "second") == ([404, 404, 404, 429], 0)


def test_an_unknown_certificate_is_refused_and_the_service_fails_open(
    make_app, sqlite_database, tls_redis
):
    """Checking is on by default: a certificate no trusted CA signed is not accepted."""
    statuses, store_errors = tls_statuses(make_app, sqlite_database, tls_redis.url)
    assert statuses == [404] * 4 and store_errors == 4
