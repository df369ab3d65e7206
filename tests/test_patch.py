"""PATCH /resources/data/<id>: a JSON Merge Patch (RFC 7396), on SQLite and Postgres."""

import json
import urllib.parse

import pytest

from tests.conftest import bearer, make_token
from tests.test_people import COLLECTION, PETER, assert_problem, create, parse_utc

FORM_TYPE = "application/x-www-form-urlencoded"
ACCEPT_PATCH = "application/merge-patch+json, application/json"
NOT_AN_OBJECT = "must be a JSON object with name, age and locale"


def url(person):
    return f"{COLLECTION}{person['id']}"


def merge_patch(client, person, patch, content_type="application/merge-patch+json", **kwargs):
    return client.patch(url(person), data=json.dumps(patch), content_type=content_type, **kwargs)


@pytest.mark.parametrize(
    ("patch", "changed"),
    [
        ({"name": "  pete  "}, {"name": "pete"}),  # trimmed, as on create
        ({"age": 43}, {"age": 43}),
        ({"locale": "SF"}, {"locale": "SF"}),
        ({"name": "ann", "age": 7}, {"name": "ann", "age": 7}),
        ({"name": "ann", "age": 7, "locale": "LDN"}, {"name": "ann", "age": 7, "locale": "LDN"}),
        ({"age": 43, "id": 999, "created_at": "x"}, {"age": 43}),  # server fields ignored
    ],
)
def test_a_patch_changes_the_fields_it_names_and_keeps_the_others(
    client, stored_people, patch, changed
):
    person = create(client)
    other = create(client, {"name": "other", "age": 1, "locale": "X"})
    response = merge_patch(client, person, patch)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body == {**person, **changed, "updated_at": body["updated_at"]}
    assert parse_utc(body["updated_at"]) > parse_utc(person["updated_at"])
    assert stored_people() == [
        {"id": person["id"], **PETER, **changed},
        {"id": other["id"], "name": "other", "age": 1, "locale": "X"},
    ]


@pytest.mark.parametrize(
    ("content_type", "encode"),
    [
        ("application/merge-patch+json", json.dumps),
        ("application/json", json.dumps),
        ("application/json; charset=utf-8", json.dumps),
        (FORM_TYPE, lambda patch: urllib.parse.urlencode({"data": json.dumps(patch)})),
    ],
)
def test_each_patch_media_type_is_accepted(client, stored_people, content_type, encode):
    person = create(client)
    response = client.patch(url(person), data=encode({"age": 43}), content_type=content_type)
    assert response.status_code == 200
    assert stored_people() == [{"id": person["id"], **PETER, "age": 43}]


def test_a_patch_in_a_multipart_form_field_is_accepted(client, stored_people):
    person = create(client)
    response = client.patch(url(person), data={"data": json.dumps({"age": 43})})
    assert response.status_code == 200
    assert stored_people() == [{"id": person["id"], **PETER, "age": 43}]


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/json-patch+json", "application/xml", "application/problem+json"],
)
def test_other_media_types_are_415_with_accept_patch(client, stored_people, content_type):
    person = create(client)
    response = merge_patch(client, person, {"age": 43}, content_type=content_type)
    assert_problem(response, 415)
    assert response.headers["Accept-Patch"] == ACCEPT_PATCH
    assert stored_people() == [{"id": person["id"], **PETER}]


@pytest.mark.parametrize(
    ("patch", "errors"),
    [
        ({"name": None}, [{"field": "name", "message": "must be a string"}]),
        ({"age": None}, [{"field": "age", "message": "must be an integer"}]),
        ({"locale": None, "age": 3}, [{"field": "locale", "message": "must be a string"}]),
        ({"nickname": "p"}, [{"field": "nickname", "message": "is not a known field"}]),
        ({"age": 151, "name": ""}, [
            {"field": "name", "message": "must not be empty"},
            {"field": "age", "message": "must be between 0 and 150"},
        ]),
        ([{"age": 3}], [{"field": None, "message": NOT_AN_OBJECT}]),
    ],
)
def test_null_unknown_and_invalid_fields_are_422_and_change_nothing(
    client, stored_people, patch, errors
):
    person = create(client)
    etag = client.get(url(person)).headers["ETag"]
    body = assert_problem(merge_patch(client, person, patch), 422)
    assert body["errors"] == errors
    assert stored_people() == [{"id": person["id"], **PETER}]
    assert client.get(url(person)).headers["ETag"] == etag


def test_malformed_json_is_400(client, stored_people):
    person = create(client)
    response = client.patch(url(person), data='{"age": ', content_type="application/json")
    assert_problem(response, 400)
    assert stored_people() == [{"id": person["id"], **PETER}]


def test_an_empty_patch_is_a_no_op_returning_the_person(client, stored_people):
    created = client.put(COLLECTION, json=PETER)
    person = created.get_json()
    for patch in ({}, {"id": 5, "updated_at": "x"}):  # only server fields: nothing to change
        response = merge_patch(client, person, patch)
        assert response.status_code == 200
        assert response.get_json() == person  # updated_at unchanged
        assert response.headers["ETag"] == created.headers["ETag"]
    assert stored_people() == [{"id": person["id"], **PETER}]


def test_an_empty_patch_still_honours_if_match_and_404(client):
    person = create(client)
    stale = client.get(url(person)).headers["ETag"]
    merge_patch(client, person, {"age": 1})
    assert_problem(merge_patch(client, person, {}, headers={"If-Match": stale}), 412)
    current = client.get(url(person)).headers["ETag"]
    assert merge_patch(client, person, {}, headers={"If-Match": current}).status_code == 200
    assert_problem(merge_patch(client, {"id": 99}, {}), 404)


def test_a_patch_with_the_values_already_stored_is_still_a_write(client):
    created = client.put(COLLECTION, json=PETER)
    person = created.get_json()
    response = merge_patch(client, person, {"age": PETER["age"]})
    assert response.status_code == 200
    assert response.headers["ETag"] != created.headers["ETag"]
    assert parse_utc(response.get_json()["updated_at"]) > parse_utc(person["updated_at"])


def test_a_patch_honours_if_match(client, stored_people):
    person = create(client)
    etag = client.get(url(person)).headers["ETag"]
    first = merge_patch(client, person, {"age": 1}, headers={"If-Match": etag})
    assert first.status_code == 200
    second = merge_patch(client, person, {"age": 2}, headers={"If-Match": etag})
    assert_problem(second, 412)
    assert stored_people() == [{"id": person["id"], **PETER, "age": 1}]


def test_a_patch_of_a_missing_person_is_404(client, stored_people):
    assert_problem(merge_patch(client, {"id": 99}, {"age": 1}), 404)
    assert stored_people() == []


def test_patch_needs_the_write_role(app, client, stored_people):
    person = create(client)
    reader = bearer(make_token(app, "reader", "read"))
    response = merge_patch(app.test_client(), person, {"age": 1}, headers=reader)
    assert_problem(response, 403)
    assert_problem(merge_patch(app.test_client(), person, {"age": 1}), 401)
    assert stored_people() == [{"id": person["id"], **PETER}]
