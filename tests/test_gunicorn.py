"""The full contract against a real gunicorn server with several workers."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import bearer
from tests.servers import gunicorn, request

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def call(database_url, tmp_path, write_token):
    """Send one request, with the write token, to a 2-worker gunicorn."""
    with gunicorn(database_url, tmp_path / "gunicorn.log", workers=2) as base_url:

        def send(method, path, body=None, content_type=None):
            return request(
                base_url, method, path, body, {**(content_type or {}), **bearer(write_token)}
            )

        yield send


def test_full_contract_over_http(call):
    created = call(
        "PUT", "/resources/data/", 'data={"name": "peter", "locale": "NYC", "age": 42}', FORM
    )
    assert created.status == 201
    person = created.json()
    location = created.headers["Location"]
    assert location == f"/resources/data/{person['id']}"
    stored = {key: person[key] for key in ("name", "age", "locale")}
    assert stored == {"name": "peter", "age": 42, "locale": "NYC"}

    fetched = call("GET", location)
    assert fetched.status == 200 and fetched.json() == person

    other = call("PUT", "/resources/data", '{"name": "ann", "age": 7, "locale": "LDN"}', JSON)
    assert other.status == 201 and other.json()["id"] != person["id"]

    new = json.dumps({"name": "pete", "age": 43, "locale": "NYC"})
    replaced = call("PUT", location, new, JSON)
    assert replaced.status == 200 and replaced.json()["name"] == "pete"
    assert call("GET", location).json()["age"] == 43

    deleted = call("DELETE", location)
    assert deleted.status == 200 and deleted.json() == replaced.json()
    for method in ("GET", "DELETE"):
        gone = call(method, location)
        assert gone.status == 404
        assert gone.headers["Content-Type"] == "application/problem+json"

    assert call("GET", "/resources/data/abc").status == 404
    assert call("GET", "/resources/data/99999999999999999999").status == 404
    not_allowed = call("POST", "/resources/data/")
    assert not_allowed.status == 405 and "PUT" in not_allowed.headers["Allow"]
    invalid = call("PUT", "/resources/data/", '{"name": ""}', JSON)
    assert invalid.status == 422
    assert {error["field"] for error in invalid.json()["errors"]} == {"name", "age", "locale"}
    assert call("PUT", "/resources/data/", "{", JSON).status == 400
    assert call("PUT", "/resources/data/", "x").status == 415
    big = "data=" + json.dumps({"name": "x" * 100_000, "age": 1, "locale": "x"})
    assert call("PUT", "/resources/data/", big, FORM).status == 413
    assert call("GET", f"/resources/data/{other.json()['id']}").status == 200


def test_concurrent_writers_all_succeed(call, stored_people):
    """Many writers at once over several processes: no 'database is locked', no loss."""

    def write(number):
        person = {"name": f"writer {number}", "age": number % 151, "locale": "NYC"}
        response = call("PUT", "/resources/data/", json.dumps(person), JSON)
        return response.status, response.json(), person

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(write, range(200)))

    assert [status for status, _, _ in results] == [201] * 200
    stored = {row["id"]: row for row in stored_people()}
    assert len(stored) == 200
    for _, body, sent in results:
        assert {key: stored[body["id"]][key] for key in sent} == sent
