"""PUT /resources/data/ with a JSON array: every person created in one transaction, or none."""

import json

import pytest

from tests.conftest import before_storage, make_token
from tests.prometheus import total
from tests.test_metrics import scrape

PEOPLE = [
    {"name": "Ann", "age": 30, "locale": "NYC"},
    {"name": "Émilie 😀", "age": 0, "locale": "Paris"},
    {"name": "李", "age": 150, "locale": "HK"},
]


def test_bulk_create_stores_all_in_order(client, stored_people):
    response = client.put("/resources/data/", json=PEOPLE)
    assert response.status_code == 201
    assert "Location" not in response.headers
    items = response.get_json()["items"]
    assert [{k: p[k] for k in ("name", "age", "locale")} for p in items] == PEOPLE
    stored = stored_people()
    assert [p["id"] for p in items] == [p["id"] for p in stored]
    assert [p["name"] for p in stored] == [p["name"] for p in PEOPLE]
    one = client.get(f"/resources/data/{items[1]['id']}").get_json()
    assert one == items[1]


def test_bulk_create_in_a_form_field(client, stored_people):
    response = client.put("/resources/data/", data={"data": json.dumps(PEOPLE[:2])})
    assert response.status_code == 201
    assert len(stored_people()) == 2


def test_one_bad_item_stores_nothing_and_names_each_problem(client, stored_people):
    body = [PEOPLE[0], {"name": "", "age": 151, "locale": "X"}, 7, {"name": "B", "locale": "Y"}]
    response = client.put("/resources/data/", json=body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"] == [
        {"field": "[1].name", "message": "must not be empty"},
        {"field": "[1].age", "message": "must be between 0 and 150"},
        {"field": "[2]", "message": "must be a JSON object with name, age and locale"},
        {"field": "[3].age", "message": "is required"},
    ]
    assert stored_people() == []


@before_storage
@pytest.mark.parametrize("size", [0, 4])
def test_empty_and_too_many_items_are_refused(make_app, database_url, size, stored_people):
    app = make_app(database_url, BULK_MAX_ITEMS=3)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {make_token(app)}"}
    response = client.put("/resources/data/", json=[PEOPLE[0]] * size, headers=headers)
    assert response.status_code == 422
    assert response.get_json()["errors"] == [{"field": None, "message": "must hold 1 to 3 people"}]
    assert stored_people() == []


@before_storage
def test_body_limits_bulk_larger_than_single(make_app, database_url, stored_people):
    app = make_app(database_url, MAX_CONTENT_LENGTH=1000, BULK_MAX_CONTENT_LENGTH=5000)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {make_token(app)}"}
    person = {"name": "x" * 150, "age": 1, "locale": "L"}
    bulk = [person] * 25  # about 4.5 KB
    assert client.put("/resources/data/", json=bulk, headers=headers).status_code == 201
    response = client.put("/resources/data/", json=bulk * 2, headers=headers)
    assert response.status_code == 413
    single = {"name": "x" * 200, "age": 1, "locale": "y" * 64, "id": "z" * 900}
    response = client.put("/resources/data/", json=single, headers=headers)
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert len(stored_people()) == 25


def test_idempotency_key_creates_once(client, stored_people, app):
    headers = {"Idempotency-Key": "bulk-1"}
    first = client.put("/resources/data/", json=PEOPLE, headers=headers)
    again = client.put("/resources/data/", json=PEOPLE, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.data == again.data
    assert "Location" not in again.headers and "ETag" not in again.headers
    assert len(stored_people()) == 3
    other = client.put("/resources/data/", json=PEOPLE[:1], headers=headers)
    assert other.status_code == 422
    assert len(stored_people()) == 3


def test_bulk_creates_are_counted_in_metrics(app, client):
    client.put("/resources/data/", json=PEOPLE)
    client.put("/resources/data/", json=PEOPLE[:2], headers={"Idempotency-Key": "k"})
    client.put("/resources/data/", json=PEOPLE[:2], headers={"Idempotency-Key": "k"})  # replay
    client.put("/resources/data/", json=[PEOPLE[0], {}])  # refused: nothing created
    assert total(scrape(app), "people_api_people_changes_total", change="created") == 5
