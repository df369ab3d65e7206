"""The service behind the reverse proxies the platforms put in front of it (real nginx)."""

import http.client
import json
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import bearer, make_token
from tests.deployment import wait_for_log
from tests.nginx import nginx
from tests.servers import free_port, gunicorn, request

pytestmark = pytest.mark.server

PROBLEM = "application/problem+json"
KIB = 1024


@pytest.fixture
def token(sqlite_database, make_app):
    app = make_app(sqlite_database)
    secret = make_token(app)
    return secret


@pytest.fixture
def upstream(sqlite_database, tmp_path):
    """gunicorn as the platforms run it (the checked-in config), two workers."""
    with gunicorn(sqlite_database, tmp_path / "gunicorn.log", workers=2) as base_url:
        yield base_url


def refused_bodies(sizes):
    """(content type, body) pairs the app refuses: too large, or not a type it reads."""
    for size in sizes:
        yield "application/json", json.dumps({"name": "x" * size, "age": 1, "locale": "x"})
        yield "text/plain", "x" * size


def send_all(base_url, token, sizes, repeat):
    """Each refused body `repeat` times, four at a time (one at a time hid the failure)."""
    jobs = [job for job in refused_bodies(sizes) for _ in range(repeat)]

    def send(job):
        content_type, body = job
        headers = {**bearer(token), "Content-Type": content_type}
        return request(base_url, "PUT", "/resources/data/", body, headers)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(send, jobs))


def assert_all_problems(answers, statuses):
    seen = [(answer.status, answer.headers["Content-Type"]) for answer in answers]
    assert [status for status, _ in seen if status not in statuses] == []
    assert {content_type for _, content_type in seen} == {PROBLEM}


def test_app_refusals_reach_the_client_behind_the_platforms_default_nginx(
    upstream, token, tmp_path
):
    """Bodies nginx lets through (under its 1m default) that the app refuses unread.

    Without api/bodies.py, 14 to 44 of these 120 got nginx's 502 page (4 clients at once).
    """
    with nginx(tmp_path / "nginx", upstream, shipped=False) as base_url:
        answers = send_all(base_url, token, [200 * KIB, 900 * KIB, 1000 * KIB], repeat=20)
    assert_all_problems(answers, {413, 415})


def test_shipped_nginx_answers_what_it_refuses_as_problems(upstream, token, tmp_path):
    """The repository's nginx files: bodies over its limit get a 413 problem from nginx."""
    with nginx(tmp_path / "nginx", upstream) as base_url:
        too_large = send_all(base_url, token, [1100 * KIB, 2048 * KIB], repeat=20)
        # Over the app's 16 KiB, within nginx's 1 MiB (a bulk create's limit): still the
        # app's own answers (they carry its id).
        app_answers = send_all(base_url, token, [20 * KIB, 900 * KIB], repeat=5)
        person = {"name": "ann", "age": 7, "locale": "LDN"}
        headers = {**bearer(token), "Content-Type": "application/json"}
        created = request(base_url, "PUT", "/resources/data/", json.dumps(person), headers)
    assert_all_problems(too_large, {413})
    assert {answer.json()["status"] for answer in too_large} == {413}
    assert all("X-Request-ID" not in answer.headers for answer in too_large)
    assert_all_problems(app_answers, {413, 415})
    assert {answer.status for answer in app_answers} == {413, 415}
    assert all("X-Request-ID" in answer.headers for answer in app_answers)
    assert created.status == 201 and created.json()["name"] == "ann"
    # The app's own headers pass through once; nginx names no version.
    assert created.headers.get_all("X-Content-Type-Options") == ["nosniff"]
    for answer in (created, *too_large):
        assert answer.headers["Server"] == "nginx"
    assert {answer.headers["X-Content-Type-Options"] for answer in too_large} == {"nosniff"}
    assert {answer.headers["Cache-Control"] for answer in too_large} == {"no-store"}


def silent_upstream():
    """A listening socket that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    return listener


def test_shipped_nginx_answers_gateway_errors_as_problems(tmp_path):
    """No app behind nginx (502), or an app that does not answer in time (504)."""
    with nginx(tmp_path / "down", f"http://127.0.0.1:{free_port()}") as base_url:
        down = request(base_url, "GET", "/resources/data/1")
    with silent_upstream() as listener:
        address = f"http://127.0.0.1:{listener.getsockname()[1]}"
        # The platform waits 60 s for the app; the test does not.
        with nginx(tmp_path / "slow", address, location_extra="proxy_read_timeout 1s;") as url:
            slow = request(url, "GET", "/resources/data/1")
    assert (down.status, down.headers["Content-Type"]) == (502, PROBLEM)
    assert down.headers["Retry-After"] == "1"
    assert down.json()["status"] == 502
    assert (slow.status, slow.headers["Content-Type"]) == (504, PROBLEM)
    for answer in (down, slow):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["Server"] == "nginx"
    assert slow.json()["title"] == "Gateway Timeout"


def test_a_body_announced_larger_than_the_drain_bound_is_not_read(upstream, token):
    """A client cannot make a worker read a huge body: the 413 comes without waiting for it."""
    host, port = upstream.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        head = (
            "PUT /resources/data/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: {10**12}\r\n\r\n"
        )
        connection.sendall(head.encode() + b"{" * 1000)
        answer = connection.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413 ")


def request_from(source, base_url, path, headers):
    """A GET sent from another loopback address, so the client is not where nginx is."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(source, 0))
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


def test_the_client_address_behind_nginx_is_logged_and_cannot_be_forged(
    upstream, token, tmp_path
):
    with nginx(tmp_path / "nginx", upstream) as base_url:
        plain = request_from("127.0.0.2", base_url, "/resources/data/1", bearer(token))
        forged_header = {**bearer(token), "X-Forwarded-For": "203.0.113.66"}
        forged = request_from("127.0.0.3", base_url, "/resources/data/1", forged_header)
    ids = {plain.headers["X-Request-ID"]: "127.0.0.2", forged.headers["X-Request-ID"]: "127.0.0.3"}
    for request_id in ids:  # lines are written in batches, up to 100 ms later
        log = wait_for_log(tmp_path / "gunicorn.log", request_id)
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    logged = {line["request_id"]: line["client"] for line in lines if line["request_id"] in ids}
    # nginx itself, the peer gunicorn sees, is 127.0.0.1.
    assert logged == ids
