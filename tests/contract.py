"""The README's curl contract, driven over HTTP against any running server."""

import json

from tests.servers import request

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/json"}


def drive_contract(base_url, headers):
    """Run every README curl example; `headers` go on every request (e.g. Authorization).

    Returns the person left stored at the end, so a caller can check it survives.
    """

    def call(method, path, body=None, content_headers=None):
        return request(base_url, method, path, body, {**(content_headers or {}), **headers})

    created = call(
        "PUT", "/resources/data/", 'data={"name": "peter", "locale": "NYC", "age": 42}', FORM
    )
    assert created.status == 201, created.body
    peter = created.json()
    location = created.headers["Location"]
    assert location == f"/resources/data/{peter['id']}"
    assert (peter["name"], peter["age"], peter["locale"]) == ("peter", 42, "NYC")

    ann = call("PUT", "/resources/data", '{"name": "ann", "locale": "LDN", "age": 7}', JSON)
    assert ann.status == 201, ann.body
    assert ann.json()["id"] != peter["id"]

    fetched = call("GET", location)
    assert fetched.status == 200 and fetched.json() == peter

    replacement = json.dumps({"name": "peter", "locale": "NYC", "age": 43})
    replaced = call("PUT", location, f"data={replacement}", FORM)
    assert replaced.status == 200, replaced.body
    assert replaced.json()["age"] == 43 and replaced.json()["id"] == peter["id"]

    deleted = call("DELETE", location)
    assert deleted.status == 200 and deleted.json() == replaced.json()
    gone = call("GET", location)
    assert gone.status == 404
    assert gone.headers["Content-Type"] == "application/problem+json"

    invalid = call("PUT", "/resources/data/", '{"name": "", "age": "old"}', JSON)
    assert invalid.status == 422
    assert {error["field"] for error in invalid.json()["errors"]} == {"name", "age", "locale"}

    kept = call("GET", ann.headers["Location"])
    assert kept.status == 200
    return kept.json()
