"""Rate limits in one process (each worker's own counters, as without REDIS_URL)."""

import time

import pytest

from api.settings_check import UnsafeSettingsError
from tests.conftest import bearer, build_app, dispose, make_token
from tests.test_people import COLLECTION, PETER, assert_problem

LIMIT_HEADERS = ("RateLimit", "RateLimit-Policy", "X-RateLimit-Limit", "X-RateLimit-Remaining")


@pytest.fixture
def make_app(database_url):
    built = []

    def make(**settings):
        app = build_app(database_url, **settings)
        built.append(app)
        return app

    yield make
    for app in built:
        dispose(app)


def assert_too_many(response):
    body = assert_problem(response, 429)
    assert body["title"] == "Too Many Requests"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert all(name in response.headers for name in LIMIT_HEADERS)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    return retry_after


def test_a_token_over_its_limit_gets_429_and_others_do_not(make_app, stored_people):
    app = make_app(RATE_LIMIT="3/minute;100/hour")
    first, second = make_token(app, "first"), make_token(app, "second")
    client = app.test_client()
    statuses = [client.put(COLLECTION, json=PETER, headers=bearer(first)).status_code]
    statuses += [client.get(f"{COLLECTION}1", headers=bearer(first)).status_code for _ in range(2)]
    assert statuses == [201, 200, 200]
    refused = client.put(COLLECTION, json=PETER, headers=bearer(first))
    assert_too_many(refused)
    assert refused.headers["X-RateLimit-Limit"] == "3"
    assert refused.headers["RateLimit-Policy"] == "3;w=60"
    assert "3 per 1 minute" in refused.get_json()["detail"]
    assert len(stored_people()) == 1  # the refused write stored nothing
    assert client.get(f"{COLLECTION}1", headers=bearer(second)).status_code == 200


def test_retry_after_is_honoured(make_app):
    app = make_app(RATE_LIMIT="2/second")
    token = make_token(app)
    client = app.test_client()
    deadline = time.monotonic() + 10
    # Fill the window (a request that crosses into the next second may pass: keep going).
    while (response := client.get(f"{COLLECTION}1", headers=bearer(token))).status_code != 429:
        assert time.monotonic() < deadline
    retry_after = assert_too_many(response)
    time.sleep(retry_after)  # what the header tells a client to do
    assert client.get(f"{COLLECTION}1", headers=bearer(token)).status_code == 404


def test_failed_authentications_per_address_are_limited(make_app):
    app = make_app(AUTH_FAILURE_RATE_LIMIT="3/minute")
    token = make_token(app)
    client = app.test_client()
    guesses = [client.get(f"{COLLECTION}1", headers=bearer(f"pplapi_{n}")) for n in range(3)]
    assert [guess.status_code for guess in guesses] == [401, 401, 401]
    assert_too_many(client.get(f"{COLLECTION}1", headers=bearer("pplapi_3")))
    assert_too_many(client.get(f"{COLLECTION}1"))  # no token at all counts as a failure too
    # Even a right token is not looked up from this address now.
    assert_too_many(client.get(f"{COLLECTION}1", headers=bearer(token)))
    # Another address (behind the trusted proxy) is not blocked.
    elsewhere = {**bearer(token), "X-Forwarded-For": "198.51.100.7"}
    assert client.get(f"{COLLECTION}1", headers=elsewhere).status_code == 404


def test_the_failure_limit_follows_the_trusted_address_not_a_forged_one(make_app):
    app = make_app(AUTH_FAILURE_RATE_LIMIT="2/minute")
    client = app.test_client()
    for forged in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        headers = {**bearer("pplapi_x"), "X-Forwarded-For": f"{forged}, 198.51.100.7"}
        last = client.get(f"{COLLECTION}1", headers=headers)
    assert_too_many(last)


def test_limits_are_off_in_development_and_on_in_production(make_app):
    development = make_app()
    client = development.test_client()
    assert {client.get("/resources/data/1").status_code for _ in range(30)} == {401}
    production = make_app(APP_ENV="production", SQLITE_PERSISTENT_DISK=True, REQUIRE_HTTPS=False)
    client = production.test_client()
    statuses = [client.get("/resources/data/1").status_code for _ in range(11)]
    assert statuses == [401] * 10 + [429]  # the production default: 10 failures a minute
    limits = production.extensions["rate_limits"]
    assert [str(limit) for limit in limits.token_limits] == ["50 per 1 second", "2000 per 1 minute"]
    off = make_app(APP_ENV="production", SQLITE_PERSISTENT_DISK=True, RATE_LIMIT="off")
    assert off.extensions["rate_limits"].token_limits == ()


@pytest.mark.parametrize("name", ["RATE_LIMIT", "AUTH_FAILURE_RATE_LIMIT"])
def test_an_unreadable_limit_stops_the_app_at_start_up(database_url, name):
    with pytest.raises(UnsafeSettingsError, match=f"{name} must be limits such as"):
        build_app(database_url, **{name: "lots/second"})
