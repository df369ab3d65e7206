"""The curl contract of /resources/data, on SQLite and Postgres."""

import io
import json
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import before_storage

PETER = {"name": "peter", "locale": "NYC", "age": 42}
COLLECTION = "/resources/data/"
FORM_TYPE = "application/x-www-form-urlencoded"


def create(client, person=PETER):
    response = client.put(COLLECTION, json=person)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def assert_problem(response, status):
    """Every error has the one problem-details shape."""
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def parse_utc(text):
    assert text.endswith("Z")
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() == timedelta(0)
    return moment


def test_create_from_the_original_curl_form(client, stored_people):
    # Exactly what `curl -X PUT -d 'data={...}'` sends.
    response = client.put(
        COLLECTION,
        data='data={"name": "peter", "locale": "NYC", "age": 42}',
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "peter" and body["age"] == 42 and body["locale"] == "NYC"
    assert response.headers["Location"] == f"/resources/data/{body['id']}"
    assert stored_people() == [{"id": body["id"], **PETER}]


def test_create_from_a_multipart_form(client, stored_people):
    response = client.put(COLLECTION, data={"data": json.dumps(PETER)})
    assert response.mimetype == "application/json"
    assert response.status_code == 201
    assert stored_people() == [{"id": response.get_json()["id"], **PETER}]


def test_create_from_an_uploaded_json_file(client, stored_people):
    import io

    upload = (io.BytesIO(json.dumps(PETER).encode()), "person.json")
    response = client.put(COLLECTION, data={"data": upload})
    assert response.status_code == 201
    assert stored_people() == [{"id": response.get_json()["id"], **PETER}]


def test_create_from_a_json_body(client, stored_people):
    response = client.put(COLLECTION, json=PETER)
    assert response.status_code == 201
    body = response.get_json()
    assert list(body) == ["id", "name", "age", "locale", "created_at", "updated_at"]
    assert stored_people() == [{"id": body["id"], **PETER}]


def test_timestamps_are_iso_8601_utc(client):
    before = datetime.now(UTC)
    body = create(client)
    created, updated = parse_utc(body["created_at"]), parse_utc(body["updated_at"])
    assert before - timedelta(seconds=5) <= created <= datetime.now(UTC) + timedelta(seconds=5)
    assert updated == created  # a new person has not been updated yet
    assert client.get(f"{COLLECTION}{body['id']}").get_json() == body


@pytest.mark.parametrize("path", ["/resources/data", "/resources/data/"])
def test_collection_answers_with_and_without_slash(client, path):
    response = client.put(path, json=PETER)
    assert response.status_code == 201


def test_ids_are_new_for_each_person_and_never_reused(client):
    first = create(client)
    second = create(client)
    assert second["id"] != first["id"]
    client.delete(f"{COLLECTION}{second['id']}")
    third = create(client)
    assert third["id"] not in (first["id"], second["id"])


def test_get_returns_the_person(client):
    created = create(client)
    response = client.get(f"{COLLECTION}{created['id']}")
    assert response.status_code == 200
    assert response.get_json() == created


@pytest.mark.parametrize(
    "person_id", ["1", "0", "-1", "abc", "1.5", "2147483648", "99999999999999999999999", "%00"]
)
def test_get_of_no_person_is_404(client, person_id):
    assert_problem(client.get(f"{COLLECTION}{person_id}"), 404)


def test_delete_returns_the_deleted_person(client, stored_people):
    created = create(client)
    kept = create(client, {"name": "ann", "age": 7, "locale": "LDN"})
    response = client.delete(f"{COLLECTION}{created['id']}")
    assert response.status_code == 200
    assert response.get_json() == created
    assert_problem(client.get(f"{COLLECTION}{created['id']}"), 404)
    assert_problem(client.delete(f"{COLLECTION}{created['id']}"), 404)
    assert [row["id"] for row in stored_people()] == [kept["id"]]


def test_replace_changes_every_field(client, stored_people):
    created = create(client)
    new = {"name": "Peter Parker", "age": 43, "locale": "Queens"}
    response = client.put(f"{COLLECTION}{created['id']}", json=new)
    assert response.status_code == 200
    body = response.get_json()
    assert {key: body[key] for key in new} == new
    assert body["id"] == created["id"]
    assert body["created_at"] == created["created_at"]
    assert parse_utc(body["updated_at"]) > parse_utc(created["updated_at"])
    assert stored_people() == [{"id": created["id"], **new}]
    assert client.get(f"{COLLECTION}{created['id']}").get_json() == body


def test_replace_accepts_the_original_form(client, stored_people):
    created = create(client)
    response = client.put(
        f"{COLLECTION}{created['id']}",
        data='data={"name": "pete", "locale": "NYC", "age": 44}',
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert stored_people() == [{"id": created["id"], "name": "pete", "age": 44, "locale": "NYC"}]


def test_replace_of_no_person_is_404(client, stored_people):
    assert_problem(client.put(f"{COLLECTION}12345", json=PETER), 404)
    assert stored_people() == []


def test_server_owned_fields_in_a_body_are_ignored(client, stored_people):
    created = create(client)
    echoed = {**created, "name": "changed", "id": 999, "created_at": "1999-01-01T00:00:00Z"}
    response = client.put(f"{COLLECTION}{created['id']}", json=echoed)
    assert response.status_code == 200
    assert response.get_json()["id"] == created["id"]
    assert response.get_json()["created_at"] == created["created_at"]
    assert stored_people() == [{"id": created["id"], **{**PETER, "name": "changed"}}]
    assert create(client, {**PETER, "id": 1000})["id"] != 1000


def test_names_and_locales_are_trimmed(client):
    body = create(client, {"name": "  peter \t", "age": 42, "locale": " NYC "})
    assert body["name"] == "peter" and body["locale"] == "NYC"


@pytest.mark.parametrize(
    "text",
    [
        "O'Brien",
        'say "hi"',
        "Robert'); DROP TABLE people;--",
        "1 OR 1=1",
        "%_\\",
        "Zoë Ångström",
        "李小龙",
        "👩‍🚀 astronaut 🚀",
        "مرحبا",
        "\u200b\u00a0mid",
    ],
)
def test_awkward_text_round_trips_exactly(client, stored_people, text):
    created = create(client, {"name": text, "age": 1, "locale": text[:64]})
    assert created["name"] == text.strip()
    fetched = client.get(f"{COLLECTION}{created['id']}").get_json()
    assert fetched["name"] == text.strip() and fetched["locale"] == text[:64].strip()
    assert stored_people()[0]["name"] == text.strip()


def test_length_limits_count_characters(client):
    assert create(client, {**PETER, "name": "é" * 200, "locale": "🚀" * 64})["name"] == "é" * 200
    response = client.put(COLLECTION, json={**PETER, "name": "é" * 201, "locale": "🚀" * 65})
    fields = {error["field"] for error in assert_problem(response, 422)["errors"]}
    assert fields == {"name", "locale"}


@pytest.mark.parametrize("age", [0, 150])
def test_age_bounds_are_accepted(client, age):
    assert create(client, {**PETER, "age": age})["age"] == age


INVALID_BODIES = [
    ({"age": 42, "locale": "NYC"}, {"name"}),
    ({"name": "peter", "locale": "NYC"}, {"age"}),
    ({"name": "peter", "age": 42}, {"locale"}),
    ({}, {"name", "age", "locale"}),
    ({**PETER, "nickname": "pete"}, {"nickname"}),
    ({**PETER, "Name": "x"}, {"Name"}),
    ({**PETER, "name": ""}, {"name"}),
    ({**PETER, "name": "   "}, {"name"}),
    ({**PETER, "name": None}, {"name"}),
    ({**PETER, "name": 42}, {"name"}),
    ({**PETER, "name": ["peter"]}, {"name"}),
    ({**PETER, "name": "a" * 201}, {"name"}),
    ({**PETER, "name": "pe\x00ter"}, {"name"}),
    ({**PETER, "name": "pe\nter"}, {"name"}),
    ({**PETER, "name": "pe\x1bter"}, {"name"}),
    ({**PETER, "name": "\ud800"}, {"name"}),
    ({**PETER, "locale": ""}, {"locale"}),
    ({**PETER, "locale": "x" * 65}, {"locale"}),
    ({**PETER, "locale": {"city": "NYC"}}, {"locale"}),
    ({**PETER, "age": -1}, {"age"}),
    ({**PETER, "age": 151}, {"age"}),
    ({**PETER, "age": 42.0}, {"age"}),
    ({**PETER, "age": 42.5}, {"age"}),
    ({**PETER, "age": "42"}, {"age"}),
    ({**PETER, "age": True}, {"age"}),
    ({**PETER, "age": None}, {"age"}),
    ({**PETER, "age": 10**30}, {"age"}),
    ({"name": 1, "age": "x", "locale": None, "extra": 0}, {"name", "age", "locale", "extra"}),
]


@before_storage
@pytest.mark.parametrize(("document", "fields"), INVALID_BODIES)
def test_invalid_fields_are_422_naming_each_field(client, stored_people, document, fields):
    # json.dumps escapes the lone surrogate and control characters, as a client would.
    response = client.put(COLLECTION, data=json.dumps(document), content_type="application/json")
    body = assert_problem(response, 422)
    assert {error["field"] for error in body["errors"]} == fields
    assert all(error["message"] for error in body["errors"])
    assert stored_people() == []


@pytest.mark.parametrize(("document", "fields"), INVALID_BODIES[:8])
def test_invalid_replace_leaves_the_person_unchanged(client, stored_people, document, fields):
    created = create(client)
    response = client.put(f"{COLLECTION}{created['id']}", json=document)
    assert {error["field"] for error in assert_problem(response, 422)["errors"]} == fields
    assert client.get(f"{COLLECTION}{created['id']}").get_json() == created


@before_storage
@pytest.mark.parametrize("document", ["[1, 2]", '"peter"', "42", "null", "true"])
def test_json_that_is_not_an_object_is_422(client, stored_people, document):
    response = client.put(COLLECTION, data=document, content_type="application/json")
    assert assert_problem(response, 422)["errors"]
    assert stored_people() == []


MALFORMED_JSON = [
    b"",
    b"{",
    b'{"name": "peter", "locale": "NYC", "age": 42',
    b"{'name': 'peter'}",
    b'{"name": "peter", "age": NaN, "locale": "NYC"}',
    b'{"name": "peter", "age": Infinity, "locale": "NYC"}',
    b'{"name": "a", "name": "b", "age": 1, "locale": "x"}',
    b'{"name": "peter", "age": 1' + b"0" * 5000 + b', "locale": "NYC"}',
    b"[" * 5000 + b"]" * 5000,
    b'{"name": "\xff\xfe", "age": 1, "locale": "x"}',
]


@before_storage
@pytest.mark.parametrize("body", MALFORMED_JSON)
def test_malformed_json_is_400(client, stored_people, body):
    response = client.put(COLLECTION, data=body, content_type="application/json")
    assert "JSON" in assert_problem(response, 400)["detail"] or "UTF-8" in response.text
    assert stored_people() == []


@before_storage
@pytest.mark.parametrize("body", [b"data={", b"data=[1", b"data="])
def test_malformed_json_in_the_form_field_is_400(client, stored_people, body):
    response = client.put(COLLECTION, data=body, content_type="application/x-www-form-urlencoded")
    assert_problem(response, 400)
    assert stored_people() == []


@before_storage
@pytest.mark.parametrize(
    "body",
    [b"", b"name=peter&age=42&locale=NYC", b"data=%7B%7D&data=%7B%7D"],
)
def test_a_form_needs_exactly_one_data_field(client, stored_people, body):
    response = client.put(COLLECTION, data=body, content_type="application/x-www-form-urlencoded")
    assert "'data'" in assert_problem(response, 400)["detail"]
    assert stored_people() == []


OTHER_FORM_FIELDS = [
    ({"submit": "Save"}, "'submit'."),
    ({"name": "peter", "": "x"}, "'', 'name'."),
    ({f"f{n:02}": "x" for n in range(12)}, "'f00', 'f01', 'f02', 'f03', 'f04', 'f05', "
     "'f06', 'f07', 'f08', 'f09' and 2 more."),
]


def form_with(extra, encoding):
    """Request arguments for a form holding a valid `data` field and the `extra` fields."""
    form = {"data": json.dumps(PETER), **extra}
    if encoding == "urlencoded":
        return {"data": urllib.parse.urlencode(form), "content_type": FORM_TYPE}
    if encoding == "multipart":
        return {"data": form}
    uploads = {name: (io.BytesIO(value.encode()), "extra.json") for name, value in extra.items()}
    return {"data": {"data": json.dumps(PETER), **uploads}}


@before_storage
@pytest.mark.parametrize("encoding", ["urlencoded", "multipart", "file parts"])
@pytest.mark.parametrize(("extra", "named"), OTHER_FORM_FIELDS)
def test_form_fields_other_than_data_are_refused_and_named(
    client, stored_people, extra, named, encoding
):
    created = create(client)
    for path in (COLLECTION, f"{COLLECTION}{created['id']}"):
        detail = assert_problem(client.put(path, **form_with(extra, encoding)), 400)["detail"]
        assert detail.startswith(f"Unknown form fields: {named} Send exactly one form field")
        assert "'data'" in detail
    assert stored_people() == [{"id": created["id"], **PETER}]


@before_storage
@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
def test_unsupported_media_type_is_415(client, stored_people, content_type):
    response = client.put(COLLECTION, data=json.dumps(PETER), content_type=content_type)
    assert "application/json" in assert_problem(response, 415)["detail"]
    assert stored_people() == []


def test_json_with_a_charset_or_a_json_suffix_is_accepted(client):
    for content_type in ["application/json; charset=utf-8", "application/merge-patch+json"]:
        response = client.put(COLLECTION, data=json.dumps(PETER), content_type=content_type)
        assert response.status_code == 201


def test_unknown_url_is_404_in_problem_shape(client):
    assert_problem(client.get("/nope"), 404)
    assert_problem(client.get("/resources/data/1/extra"), 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("post", COLLECTION, {"PUT"}),
        ("delete", COLLECTION, {"GET", "PUT"}),
        ("delete", "/resources/data", {"GET", "PUT"}),
        ("post", "/resources/data/1", {"GET", "PUT", "PATCH", "DELETE"}),
        ("patch", COLLECTION, {"GET", "PUT"}),
    ],
)
def test_wrong_method_is_405_with_allow(client, method, path, allowed):
    response = getattr(client, method)(path)
    assert_problem(response, 405)
    assert allowed <= {item.strip() for item in response.headers["Allow"].split(",")}
