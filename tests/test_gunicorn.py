"""The full contract against a real gunicorn server with several workers."""

import json
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import bearer
from tests.contract import FORM, JSON, drive_contract
from tests.servers import gunicorn, request
from tests.test_routing import FULLWIDTH

pytestmark = pytest.mark.server

pytestmark = pytest.mark.server  # every test here starts a real process


@pytest.fixture
def server(database_url, tmp_path):
    """A 2-worker gunicorn with the checked-in config."""
    with gunicorn(database_url, tmp_path / "gunicorn.log", workers=2) as base_url:
        yield base_url


def test_full_contract_over_http(server, write_token):
    headers = bearer(write_token)
    kept = drive_contract(server, headers)

    def call(method, path, body=None, content_type=None):
        return request(server, method, path, body, {**(content_type or {}), **headers})

    assert call("GET", "/resources/data/abc").status == 404
    assert call("GET", "/resources/data/99999999999999999999").status == 404
    not_allowed = call("POST", "/resources/data/")
    assert not_allowed.status == 405 and "PUT" in not_allowed.headers["Allow"]
    assert call("PUT", "/resources/data/", "{", JSON).status == 400
    assert call("PUT", "/resources/data/", "x").status == 415
    big = "data=" + json.dumps({"name": "x" * 100_000, "age": 1, "locale": "x"})
    assert call("PUT", "/resources/data/", big, FORM).status == 413
    assert call("GET", f"/resources/data/{kept['id']}").json() == kept
    for method in ("PUT", "PATCH", "DELETE", "POST"):  # without a token too: routing comes first
        for path in (
            "/resources/data/2147483648",
            f"/resources/data/0{kept['id']}",
            "/resources/data/" + urllib.parse.quote(str(kept["id"]).translate(FULLWIDTH)),
        ):
            assert request(server, method, path).status == 404
    options = request(server, "OPTIONS", f"/resources/data/{kept['id']}")
    assert options.status == 204 and options.body == b""
    assert {item.strip() for item in options.headers["Allow"].split(",")} == {
        "GET",
        "HEAD",
        "PUT",
        "PATCH",
        "DELETE",
        "OPTIONS",
    }
    assert "Content-Type" not in options.headers


def test_concurrent_writers_all_succeed(server, write_token, stored_people):
    """Many writers at once over several processes: no 'database is locked', no loss."""

    def write(number):
        person = {"name": f"writer {number}", "age": number % 151, "locale": "NYC"}
        headers = {**JSON, **bearer(write_token)}
        response = request(server, "PUT", "/resources/data/", json.dumps(person), headers)
        return response.status, response.json(), person

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(write, range(200)))

    assert [status for status, _, _ in results] == [201] * 200
    stored = {row["id"]: row for row in stored_people()}
    assert len(stored) == 200
    for _, body, sent in results:
        assert {key: stored[body["id"]][key] for key in sent} == sent
