"""The OpenAPI document: valid, open without a token, built once, and true to the routes.

tests/test_contract_fuzz.py checks it against the running service (schemathesis).
"""

import re

import pytest
from openapi_spec_validator import validate

from api.openapi import document_text
from api.schemas import LOCALE_MAX_LENGTH, NAME_MAX_LENGTH
from tests.conftest import bearer, make_token

# Routes that are not part of the API's contract: the docs page and its assets.
UNDOCUMENTED = {"/docs", "/docs/<filename>", "/openapi.json"}
METHODS = {"GET", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def document(make_app, sqlite_database):
    app = make_app(sqlite_database)
    response = app.test_client().get("/openapi.json")  # no token
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def test_the_document_is_valid_openapi_3_1(document):
    validate(document)
    assert document["openapi"] == "3.1.0"


def openapi_path(rule):
    path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)
    return path.rstrip("/") or "/"


def test_every_route_and_method_is_documented(make_app, sqlite_database, document):
    app = make_app(sqlite_database)
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule in UNDOCUMENTED or rule.endpoint == "static":
            continue
        for method in rule.methods & METHODS:
            routes.add((openapi_path(rule.rule), method.lower()))
    documented = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method.upper() in METHODS
    }
    assert documented == routes


def test_the_field_rules_are_the_schemas(document):
    schemas = document["components"]["schemas"]
    sent = schemas["PersonInput"]
    assert sent["required"] == ["name", "age", "locale"]
    assert sent["additionalProperties"] is False
    assert sent["properties"]["name"]["maxLength"] == NAME_MAX_LENGTH
    assert sent["properties"]["locale"]["maxLength"] == LOCALE_MAX_LENGTH
    assert sent["properties"]["age"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 150,
        "description": "42.0 is refused: write 42",
    }
    assert "required" not in schemas["PersonPatch"]
    assert schemas["PersonPatch"]["properties"] == sent["properties"]
    assert set(schemas["Person"]["required"]) == {
        "id", "name", "age", "locale", "created_at", "updated_at"
    }  # fmt: skip


def test_each_operation_names_the_role_the_service_enforces(make_app, sqlite_database, document):
    """A token of a role the document does not list for an operation gets a 403."""
    app = make_app(sqlite_database)
    client = app.test_client()
    tokens = {role: make_token(app, name=role, role=role) for role in ("read", "metrics")}
    requests = {
        "listPeople": ("GET", "/resources/data"),
        "createPerson": ("PUT", "/resources/data"),
        "getPerson": ("GET", "/resources/data/1"),
        "replacePerson": ("PUT", "/resources/data/1"),
        "patchPerson": ("PATCH", "/resources/data/1"),
        "deletePerson": ("DELETE", "/resources/data/1"),
        "getMetrics": ("GET", "/metrics"),
    }
    operations = {
        operation["operationId"]: operation
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    for operation_id, (method, path) in requests.items():
        operation = operations[operation_id]
        (role,) = operation["security"][0]["bearer"]
        assert operation["x-required-role"] == role
        assert f"`{role}`" in operation["description"]
        for token_role, secret in tokens.items():
            status = client.open(path, method=method, headers=bearer(secret)).status_code
            assert (status != 403) is (token_role == role), (operation_id, token_role, status)
    for probe in ("checkLiveness", "checkReadiness"):
        assert operations[probe]["security"] == []


def test_statuses_headers_and_links(document):
    paths = document["paths"]
    create = paths["/resources/data"]["put"]
    assert set(create["requestBody"]["content"]) == {
        "application/json", "application/x-www-form-urlencoded", "multipart/form-data"
    }  # fmt: skip
    assert {"201", "400", "401", "403", "409", "413", "415", "422", "429", "503"} <= set(
        create["responses"]
    )
    assert create["responses"]["201"]["links"]["GetPerson"]["operationId"] == "getPerson"
    listing = paths["/resources/data"]["get"]
    assert {parameter["name"] for parameter in listing["parameters"]} == {
        "locale", "age_min", "age_max", "name_prefix", "updated_after", "sort", "limit",
        "cursor", "count",
    }  # fmt: skip
    assert set(listing["responses"]["200"]["content"]) == {
        "application/json", "application/x-ndjson", "text/csv"
    }  # fmt: skip
    assert {"Link", "X-Total-Count", "X-Request-ID"} <= set(listing["responses"]["200"]["headers"])
    person = paths["/resources/data/{person_id}"]
    assert {"If-None-Match"} == {p["name"] for p in person["get"]["parameters"]}
    assert set(person["get"]["responses"]["200"]["links"]) == {
        "PatchPerson", "ReplacePerson", "DeletePerson"
    }  # fmt: skip
    for method in ("put", "patch", "delete"):
        assert {"404", "412", "428"} <= set(person[method]["responses"])
    assert "errors" in document["components"]["schemas"]["Problem"]["properties"]
    unauthorized = create["responses"]["401"]["headers"]
    assert "WWW-Authenticate" in unauthorized


def test_the_document_is_built_once_per_process(make_app, sqlite_database):
    app = make_app(sqlite_database)
    client = app.test_client()
    first = client.get("/openapi.json").data
    hits = document_text.cache_info().hits
    assert client.get("/openapi.json").data == first
    assert document_text.cache_info().hits == hits + 1
