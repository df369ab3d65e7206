"""ETags and conditional requests on a person, on SQLite and Postgres."""

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from api.extensions import db
from tests.conftest import bearer, build_app, dispose, make_token
from tests.test_people import COLLECTION, PETER, assert_problem, create

ANN = {"name": "ann", "age": 7, "locale": "LDN"}
CACHE_CONTROL = "private, no-cache"


def url(person):
    return f"{COLLECTION}{person['id']}"


def created_with_etag(client, person=PETER):
    response = client.put(COLLECTION, json=person)
    assert response.status_code == 201
    return response.get_json(), response.headers["ETag"]


def test_every_response_with_a_person_has_a_strong_etag_and_no_shared_caching(client):
    created = client.put(COLLECTION, json=PETER)
    person = created.get_json()
    assert created.headers["ETag"] == f'"{person["id"]}.1"'
    answers = [
        created,
        client.get(url(person)),
        client.put(url(person), json=ANN),
        client.patch(url(person), json={"age": 8}),
        client.delete(url(person)),
    ]
    assert [answer.status_code for answer in answers] == [201, 200, 200, 200, 200]
    etags = [answer.headers["ETag"] for answer in answers]
    id_ = person["id"]
    assert etags == [f'"{id_}.1"', f'"{id_}.1"', f'"{id_}.2"', f'"{id_}.3"', f'"{id_}.3"']
    assert {answer.headers["Cache-Control"] for answer in answers} == {CACHE_CONTROL}


def test_etag_changes_on_every_write_and_not_on_a_read(client):
    person, etag = created_with_etag(client)
    seen = [etag]
    for _ in range(3):
        assert client.get(url(person)).headers["ETag"] == seen[-1]
    for body in (ANN, PETER, PETER):  # a replace with the same values is still a write
        seen.append(client.put(url(person), json=body).headers["ETag"])
    seen.append(client.patch(url(person), json={"locale": "SF"}).headers["ETag"])
    assert len(set(seen)) == len(seen) == 5
    assert client.get(url(person)).headers["ETag"] == seen[-1]


def test_the_etag_of_a_write_is_the_one_a_get_then_returns(client):
    person, _ = created_with_etag(client)
    replaced = client.put(url(person), json=ANN)
    assert client.get(url(person)).headers["ETag"] == replaced.headers["ETag"]
    patched = client.patch(url(person), json={"name": "anne"})
    fetched = client.get(url(person))
    assert fetched.headers["ETag"] == patched.headers["ETag"]
    assert fetched.get_json() == patched.get_json()


def test_get_with_the_current_etag_is_304_without_a_body(client):
    person, etag = created_with_etag(client)
    for header in (etag, "*", f'"x", {etag}', f"W/{etag}"):  # If-None-Match compares weakly
        response = client.get(url(person), headers={"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.data == b""
        assert response.headers["ETag"] == etag
        assert response.headers["Cache-Control"] == CACHE_CONTROL


def test_get_with_an_old_or_other_etag_is_200(client):
    person, old = created_with_etag(client)
    other, other_etag = created_with_etag(client, ANN)
    current = client.put(url(person), json=ANN).headers["ETag"]
    for header in (old, other_etag, '"1"', "garbage"):
        response = client.get(url(person), headers={"If-None-Match": header})
        assert response.status_code == 200, header
        assert response.headers["ETag"] == current
        assert response.get_json()["name"] == "ann"


def test_if_none_match_on_a_missing_person_is_404(client):
    assert_problem(client.get(f"{COLLECTION}99", headers={"If-None-Match": "*"}), 404)


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_a_write_with_the_current_etag_or_star_is_applied(client, stored_people, method):
    for if_match in ("current", "*", "list"):
        person, etag = created_with_etag(client)
        header = {"current": etag, "*": "*", "list": f'"0.0", {etag}'}[if_match]
        body = {"put": ANN, "patch": {"age": 7}, "delete": None}[method]
        response = client.open(url(person), method=method, json=body, headers={"If-Match": header})
        assert response.status_code == 200, response.get_json()
    expected = [] if method == "delete" else [{"id": n, **ANN} for n in (1, 2, 3)]
    if method == "patch":
        expected = [{"id": n, **PETER, "age": 7} for n in (1, 2, 3)]
    assert stored_people() == expected


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_a_write_with_a_stale_etag_is_412_and_changes_nothing(client, stored_people, method):
    person, old = created_with_etag(client)
    other, other_etag = created_with_etag(client, ANN)
    client.put(url(person), json={**PETER, "age": 50})
    before = stored_people()
    current = client.get(url(person)).headers["ETag"]
    weak = f"W/{current}"  # If-Match compares strongly: a weak ETag never matches
    stale = (old, other_etag, weak, '"nonsense"', f'"{person["id"]}.x"', '""', '"gk", ""')
    for header in stale:  # an empty tag (found by schemathesis) was a 500
        body = {"put": ANN, "patch": {"age": 7}, "delete": None}[method]
        response = client.open(url(person), method=method, json=body, headers={"If-Match": header})
        problem = assert_problem(response, 412)
        assert "ETag" in problem["detail"]
    assert stored_people() == before
    assert client.get(url(person)).headers["ETag"] == current


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_a_write_to_a_missing_person_is_404_whatever_if_match_says(client, method):
    body = {"put": ANN, "patch": {"age": 7}, "delete": None}[method]
    for header in ("*", '"99.1"', '"1.1"', None):
        headers = {} if header is None else {"If-Match": header}
        response = client.open(f"{COLLECTION}99", method=method, json=body, headers=headers)
        assert_problem(response, 404)


def test_after_a_delete_a_write_with_its_etag_is_404_not_412(client):
    person, etag = created_with_etag(client)
    assert client.delete(url(person), headers={"If-Match": etag}).status_code == 200
    assert_problem(client.put(url(person), json=ANN, headers={"If-Match": etag}), 404)
    assert_problem(client.delete(url(person), headers={"If-Match": etag}), 404)


@pytest.fixture
def strict_app(database_url):
    app = build_app(database_url, REQUIRE_IF_MATCH=True)
    yield app
    dispose(app)


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_require_if_match_makes_writes_without_it_428(strict_app, stored_people, method):
    client = strict_app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = bearer(make_token(strict_app))["Authorization"]
    person, etag = created_with_etag(client)  # a create needs no If-Match: nothing to match
    body = {"put": ANN, "patch": {"age": 7}, "delete": None}[method]
    problem = assert_problem(client.open(url(person), method=method, json=body), 428)
    assert "If-Match" in problem["detail"] and "ETag" in problem["detail"]
    assert stored_people() == [{"id": person["id"], **PETER}]
    # A missing person is a 404 first, with or without If-Match.
    assert_problem(client.open(f"{COLLECTION}99", method=method, json=body), 404)
    response = client.open(url(person), method=method, json=body, headers={"If-Match": etag})
    assert response.status_code == 200


def test_without_require_if_match_writes_need_no_if_match(client):
    person = create(client)
    assert client.put(url(person), json=ANN).status_code == 200


def test_people_stored_before_versions_existed_get_version_1(database_kind, make_database):
    app = build_app(make_database(database_kind))
    try:
        with app.app_context():
            upgrade(revision="45e2dcb37e7f")  # the schema before this feature
            with db.engine.begin() as connection:
                connection.execute(
                    sa.text("INSERT INTO people (name, age, locale) VALUES ('old', 1, 'NYC')")
                )
            upgrade()
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = bearer(make_token(app))["Authorization"]
        assert client.get(f"{COLLECTION}1").headers["ETag"] == '"1.1"'
        assert client.patch(f"{COLLECTION}1", json={"age": 2}).headers["ETag"] == '"1.2"'
    finally:
        dispose(app)
