"""HTTPS only, the network allowlist and the headers every response carries (in-process)."""

import pytest

from api.settings_check import UnsafeSettingsError
from tests.conftest import add_broken_route, bearer, build_app, dispose, make_token
from tests.test_people import COLLECTION, PETER, assert_problem

HTTPS = {"X-Forwarded-Proto": "https"}
PROBES = ("/healthz", "/readyz")


@pytest.fixture
def make_app(database_url):
    """Build apps with settings; each gets a write token; all disposed at the end."""
    built = []

    def make(**settings):
        # Production's check refuses a SQLite file unless the disk is said to persist.
        app = build_app(database_url, SQLITE_PERSISTENT_DISK=True, **settings)
        built.append(app)
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token(app, f't{len(built)}')}"
        return client

    yield make
    for app in built:
        dispose(app)


def test_production_refuses_plain_http_and_does_not_redirect(make_app, stored_people):
    client = make_app(APP_ENV="production")
    refused = client.put(COLLECTION, json=PETER)
    body = assert_problem(refused, 403)
    assert "https" in body["detail"].lower()
    assert "Location" not in refused.headers
    assert "Strict-Transport-Security" not in refused.headers
    assert stored_people() == []
    # What the trusted proxy hop (the router, the load balancer) says was HTTPS passes.
    created = client.put(COLLECTION, json=PETER, headers=HTTPS)
    assert created.status_code == 201
    assert created.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert client.get(f"{COLLECTION}1", headers={"X-Forwarded-Proto": "http"}).status_code == 403


def test_health_probes_answer_plain_http_in_production(make_app):
    client = make_app(APP_ENV="production", ALLOWED_NETWORKS="10.0.0.0/8")
    for path in PROBES:
        assert client.get(path).status_code == 200


def test_forged_scheme_is_ignored_without_a_trusted_hop(make_app):
    """With no proxy in front, X-Forwarded-Proto is the client's own text."""
    client = make_app(APP_ENV="production", TRUSTED_PROXY_HOPS=0)
    assert_problem(client.get(f"{COLLECTION}1", headers=HTTPS), 403)


@pytest.mark.parametrize(
    ("settings", "required"),
    [
        ({}, False),  # development
        ({"REQUIRE_HTTPS": True}, True),
        ({"APP_ENV": "production", "REQUIRE_HTTPS": False}, False),
    ],
)
def test_require_https_follows_the_setting_then_app_env(make_app, settings, required):
    status = make_app(**settings).get(f"{COLLECTION}1").status_code
    assert status == (403 if required else 404)


def test_hsts_max_age_is_a_setting_and_zero_turns_it_off(make_app):
    assert (
        make_app(HSTS_MAX_AGE=600)
        .get("/healthz", headers=HTTPS)
        .headers["Strict-Transport-Security"]
        == "max-age=600"
    )
    assert (
        "Strict-Transport-Security"
        not in make_app(HSTS_MAX_AGE=0).get("/healthz", headers=HTTPS).headers
    )
    assert "Strict-Transport-Security" not in make_app().get("/healthz").headers


@pytest.mark.parametrize(
    ("networks", "forwarded_for", "allowed"),
    [
        ("10.0.0.0/8", "10.1.2.3", True),
        ("10.0.0.0/8", "10.1.2.3, 203.0.113.9", False),  # the first entry is the client's text
        ("10.0.0.0/8, 192.168.0.0/16", "192.168.7.7", True),
        ("10.0.0.0/8", "11.0.0.1", False),
        ("2001:db8::/32", "2001:db8:5::1", True),
        ("2001:db8::/32", "2001:db9::1", False),
        ("10.0.0.0/8", "::ffff:10.0.0.9", True),  # an IPv4 client on a dual-stack socket
        ("2001:db8::/32, 10.0.0.0/8", "not-an-address", False),
    ],
)
def test_allowlist_takes_the_address_from_the_trusted_hop(
    make_app, stored_people, networks, forwarded_for, allowed
):
    client = make_app(ALLOWED_NETWORKS=networks)
    response = client.put(COLLECTION, json=PETER, headers={"X-Forwarded-For": forwarded_for})
    if allowed:
        assert response.status_code == 201
    else:
        assert assert_problem(response, 403)["detail"] == (
            "Requests from this address are not allowed."
        )
        assert stored_people() == []


def test_allowlist_answers_before_the_token_is_looked_at(make_app, capsys):
    client = make_app(ALLOWED_NETWORKS="10.0.0.0/8")
    client.environ_base.pop("HTTP_AUTHORIZATION")
    response = client.get(f"{COLLECTION}1", headers=bearer("pplapi_guess"))
    assert_problem(response, 403)
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize("networks", ["10.0.0.0/33", "10.0.0.0/8, bogus", "2001:db8::/129"])
def test_an_invalid_cidr_stops_the_app_at_start_up(database_url, networks):
    with pytest.raises(UnsafeSettingsError, match="ALLOWED_NETWORKS must be .*CIDR"):
        build_app(database_url, ALLOWED_NETWORKS=networks)


def assert_hardened(response, no_store):
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers.getlist("X-Content-Type-Options") == ["nosniff"]
    if no_store:
        assert response.headers.getlist("Cache-Control") == ["no-store"]
    assert "Server" not in response.headers  # gunicorn's is checked in test_security_server


def test_every_kind_of_response_is_hardened(make_app, database_url):
    client = make_app(APP_ENV="production", METRICS_OPEN=True)
    created = client.put(COLLECTION, json=PETER, headers=HTTPS)
    assert created.status_code == 201
    answers = {
        "201": (created, False),
        "200": (client.get(f"{COLLECTION}1", headers=HTTPS), False),
        "204 OPTIONS": (client.options(f"{COLLECTION}1", headers=HTTPS), False),
        "404": (client.get(f"{COLLECTION}9", headers=HTTPS), True),
        "422": (client.put(COLLECTION, json={}, headers=HTTPS), True),
        "401": (client.get(f"{COLLECTION}1", headers={**HTTPS, **bearer("x")}), True),
        "403 http": (client.get(f"{COLLECTION}1"), True),
        "metrics": (client.get("/metrics", headers=HTTPS), True),
        "probe": (client.get("/healthz"), False),
    }
    broken = add_broken_route(build_app(database_url))
    answers["500"] = (broken.test_client().get("/broken"), True)
    dispose(broken)
    for kind, (response, no_store) in answers.items():
        assert response.status_code != 500 or kind == "500", kind
        assert_hardened(response, no_store)
    assert answers["metrics"][0].status_code == 200
    # Only HTTPS responses carry HSTS; the probe and the refusal came over plain HTTP.
    hsts = "Strict-Transport-Security"
    with_hsts = {kind for kind, (response, _) in answers.items() if hsts in response.headers}
    assert with_hsts == {"201", "200", "204 OPTIONS", "404", "422", "401", "metrics"}
