"""Errors the contract does not reach by itself: 413, 500, 503."""

import json

from tests.conftest import bearer, make_token
from tests.test_people import COLLECTION, PETER, assert_problem


def test_oversized_body_is_413(database_url, make_app):
    app = make_app(database_url, MAX_CONTENT_LENGTH=1024)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token(app)}"
    big = {**PETER, "name": "x" * 2000}
    for kwargs in [
        {"json": big},
        {"data": "data=" + json.dumps(big), "content_type": "application/x-www-form-urlencoded"},
        {"data": {"data": json.dumps(big)}},
    ]:
        assert_problem(client.put(COLLECTION, **kwargs), 413)
    assert client.put(COLLECTION, json=PETER).status_code == 201


def test_default_body_cap_is_small(client, stored_people):
    response = client.put(COLLECTION, json={**PETER, "name": "x" * 20_000})
    assert_problem(response, 413)
    assert stored_people() == []


def test_unexpected_error_is_500_without_internals(database_url, make_app):
    app = make_app.broken(database_url)
    response = app.test_client().get("/broken")
    body = assert_problem(response, 500)
    assert "secret" not in response.text and "Traceback" not in response.text
    assert body["title"] == "Internal Server Error"


def test_unreachable_postgres_is_503(tmp_path, make_app):
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    app = make_app("postgresql://postgres@127.0.0.1:1/none")
    # Checking the token is the first database access; it must fail as cleanly as any.
    response = app.test_client().get(f"{COLLECTION}1", headers=bearer("pplapi_any"))
    assert_problem(response, 503)
    assert response.headers["Retry-After"] == "1"


def test_unopenable_sqlite_is_503(tmp_path, make_app):
    app = make_app(f"sqlite:///{tmp_path}/missing-folder/people.db")
    response = app.test_client().put(COLLECTION, json=PETER, headers=bearer("pplapi_any"))
    assert_problem(response, 503)
