"""The full contract against a real gunicorn server with several workers."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.servers import gunicorn, request

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def server(database_url, tmp_path):
    with gunicorn(database_url, tmp_path / "gunicorn.log", workers=2) as base_url:
        yield base_url


def test_full_contract_over_http(server):
    created = request(
        server,
        "PUT",
        "/resources/data/",
        body='data={"name": "peter", "locale": "NYC", "age": 42}',
        headers=FORM,
    )
    assert created.status == 201
    person = created.json()
    location = created.headers["Location"]
    assert location == f"/resources/data/{person['id']}"
    assert {key: person[key] for key in ("name", "age", "locale")} == {
        "name": "peter",
        "age": 42,
        "locale": "NYC",
    }

    fetched = request(server, "GET", location)
    assert fetched.status == 200 and fetched.json() == person

    other = request(
        server,
        "PUT",
        "/resources/data",
        body='{"name": "ann", "age": 7, "locale": "LDN"}',
        headers=JSON,
    )
    assert other.status == 201 and other.json()["id"] != person["id"]

    replaced = request(
        server,
        "PUT",
        location,
        body=json.dumps({"name": "pete", "age": 43, "locale": "NYC"}),
        headers=JSON,
    )
    assert replaced.status == 200 and replaced.json()["name"] == "pete"
    assert request(server, "GET", location).json()["age"] == 43

    deleted = request(server, "DELETE", location)
    assert deleted.status == 200 and deleted.json() == replaced.json()
    for method in ("GET", "DELETE"):
        gone = request(server, method, location)
        assert gone.status == 404
        assert gone.headers["Content-Type"] == "application/problem+json"

    assert request(server, "GET", "/resources/data/abc").status == 404
    assert request(server, "GET", "/resources/data/99999999999999999999").status == 404
    not_allowed = request(server, "POST", "/resources/data/")
    assert not_allowed.status == 405 and "PUT" in not_allowed.headers["Allow"]
    invalid = request(server, "PUT", "/resources/data/", body='{"name": ""}', headers=JSON)
    assert invalid.status == 422
    assert {error["field"] for error in invalid.json()["errors"]} == {"name", "age", "locale"}
    assert request(server, "PUT", "/resources/data/", body="{", headers=JSON).status == 400
    assert request(server, "PUT", "/resources/data/", body="x", headers={}).status == 415
    big = "data=" + json.dumps({"name": "x" * 100_000, "age": 1, "locale": "x"})
    assert request(server, "PUT", "/resources/data/", body=big, headers=FORM).status == 413
    assert request(server, "GET", f"/resources/data/{other.json()['id']}").status == 200


def test_concurrent_writers_all_succeed(server, stored_people):
    """Many writers at once over several processes: no 'database is locked', no loss."""

    def write(number):
        person = {"name": f"writer {number}", "age": number % 151, "locale": "NYC"}
        response = request(server, "PUT", "/resources/data/", json.dumps(person), JSON)
        return response.status, response.json(), person

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(write, range(200)))

    assert [status for status, _, _ in results] == [201] * 200
    stored = {row["id"]: row for row in stored_people()}
    assert len(stored) == 200
    for _, body, sent in results:
        assert {key: stored[body["id"]][key] for key in sent} == sent
