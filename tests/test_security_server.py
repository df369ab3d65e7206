"""HTTPS only and the allowlist in a real gunicorn: forged headers, IPv4 and IPv6 clients."""

import http.client
import socket

import pytest

from tests.conftest import bearer, build_app, dispose, make_token
from tests.deployment import ROOT, platform_environment, procfile_processes, run_command
from tests.servers import Response, free_port, gunicorn, request

pytestmark = pytest.mark.server

PERSON = "/resources/data/1"
PROBLEM = "application/problem+json"


@pytest.fixture
def database(sqlite_database):
    """A migrated SQLite database and a write token in it."""
    app = build_app(sqlite_database)
    token = make_token(app)
    dispose(app)
    return sqlite_database, token


def free_ipv6_port():
    with socket.socket(socket.AF_INET6) as sock:
        sock.bind(("::1", 0))
        return sock.getsockname()[1]


def request_ipv6(port, path, headers):
    connection = http.client.HTTPConnection("::1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return Response(response.status, response.headers, response.read())
    finally:
        connection.close()


def assert_refused(response):
    assert response.status == 403
    assert response.headers["Content-Type"] == PROBLEM
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_a_client_cannot_claim_https_with_a_header(database, tmp_path):
    """No proxy in front: gunicorn trusts X-Forwarded-Proto from FORWARDED_ALLOW_IPS ('*' on
    Heroku) by default; here neither it nor the app takes the scheme from a client."""
    url, token = database
    env = {"REQUIRE_HTTPS": "1", "TRUSTED_PROXY_HOPS": "0", "FORWARDED_ALLOW_IPS": "*"}
    with gunicorn(url, tmp_path / "gunicorn.log", workers=1, env=env) as base_url:
        headers = {**bearer(token), "X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on"}
        forged = request(base_url, "GET", PERSON, headers=headers)
        probe = request(base_url, "GET", "/healthz")
    assert_refused(forged)
    assert "https" in forged.json()["detail"]
    assert "Strict-Transport-Security" not in forged.headers
    assert probe.status == 200


def test_the_trusted_hop_tells_the_scheme_and_the_address(database, tmp_path):
    """What the one trusted proxy appended counts; what a client wrote before it does not."""
    url, token = database
    env = {"REQUIRE_HTTPS": "1", "ALLOWED_NETWORKS": "198.51.100.0/24"}
    with gunicorn(url, tmp_path / "gunicorn.log", workers=1, env=env) as base_url:

        def get(forwarded_for, scheme):
            headers = {**bearer(token), "X-Forwarded-For": forwarded_for}
            return request(
                base_url, "GET", PERSON, headers={**headers, "X-Forwarded-Proto": scheme}
            )

        passed = get("203.0.113.5, 198.51.100.7", "https")
        forged_address = get("198.51.100.7, 203.0.113.5", "https")
        plain_http = get("198.51.100.7", "http")
    assert passed.status == 404
    assert passed.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert passed.headers["X-Content-Type-Options"] == "nosniff"
    assert passed.headers["Server"] == "gunicorn"  # no version
    assert_refused(forged_address)
    assert forged_address.json()["detail"] == "Requests from this address are not allowed."
    assert_refused(plain_http)


@pytest.mark.parametrize(("networks", "allowed"), [("::1/128", "ipv6"), ("127.0.0.0/8", "ipv4")])
def test_ipv4_and_ipv6_allowlists(database, tmp_path, networks, allowed):
    url, token = database
    port = free_ipv6_port()
    env = {"ALLOWED_NETWORKS": networks, "TRUSTED_PROXY_HOPS": "0"}
    binds = [f"[::1]:{port}"]
    with gunicorn(url, tmp_path / "g.log", workers=1, env=env, extra_binds=binds) as base_url:
        answers = {
            "ipv4": request(base_url, "GET", PERSON, headers=bearer(token)),
            "ipv6": request_ipv6(port, PERSON, bearer(token)),
        }
        probes = [request(base_url, "GET", "/readyz"), request_ipv6(port, "/healthz", {})]
    assert answers.pop(allowed).status == 404
    assert_refused(answers.popitem()[1])
    assert [probe.status for probe in probes] == [200, 200]


def test_gunicorn_refuses_to_start_with_an_invalid_cidr(tmp_path):
    """The master checks the settings once, before any worker boots (gunicorn.conf.py)."""
    web = procfile_processes(ROOT / "Procfile")["web"]
    env = platform_environment(
        tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path}/people.db",
        PORT=str(free_port()),
        ALLOWED_NETWORKS="10.0.0.0/8, 10.0.0.300/32",
    )
    result = run_command(web, env, timeout=30)
    assert result.returncode != 0
    assert "Error: refusing to start (APP_ENV=development): ALLOWED_NETWORKS must be" in (
        result.stderr
    )
    assert "'10.0.0.300/32' is not a CIDR block" in result.stderr
    assert "Booting worker" not in result.stderr and "Traceback" not in result.stderr
