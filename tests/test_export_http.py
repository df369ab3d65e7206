"""GET /resources/data with Accept: text/csv or application/x-ndjson: every match, streamed."""

import csv
import io
import json

from tests.conftest import make_token

PEOPLE = [("Ann", 30, "NYC"), ('Comma, "Q" 😀', 40, "LA"), ("李", 50, "NYC")]


def fill(client, copies=1):
    for _ in range(copies):
        response = client.put(
            "/resources/data/",
            json=[{"name": n, "age": a, "locale": loc} for n, a, loc in PEOPLE],
        )
        assert response.status_code == 201


def test_ndjson_export_streams_every_match_in_id_order(client):
    fill(client, copies=50)  # 150 people: more than the first chunk
    response = client.get("/resources/data?locale=NYC", headers={"Accept": "application/x-ndjson"})
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "application/x-ndjson"
    assert response.headers["Cache-Control"] == "no-store"
    people = [json.loads(line) for line in response.text.splitlines()]
    assert len(people) == 100
    assert [p["id"] for p in people] == sorted(p["id"] for p in people)
    assert {p["locale"] for p in people} == {"NYC"}
    assert people[1]["name"] == "李"


def test_csv_export(client):
    fill(client)
    response = client.get("/resources/data/", headers={"Accept": "text/csv"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.text, newline="")))
    assert rows[0] == ["id", "name", "age", "locale", "created_at", "updated_at"]
    assert [(r[1], int(r[2]), r[3]) for r in rows[1:]] == PEOPLE


def test_json_stays_the_default(client):
    fill(client)
    for accept in (None, "*/*", "application/json, text/csv", "text/html"):
        headers = {"Accept": accept} if accept else {}
        response = client.get("/resources/data", headers=headers)
        assert response.mimetype == "application/json"
        assert len(response.get_json()["items"]) == 3


def test_page_parameters_are_refused_and_bad_filters_too(client):
    headers = {"Accept": "text/csv"}
    response = client.get("/resources/data?limit=5&sort=name&age_min=x", headers=headers)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert [e["field"] for e in response.get_json()["errors"]] == ["limit", "sort"]
    response = client.get("/resources/data?age_min=x", headers=headers)
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "age_min"


def test_export_needs_the_read_role(app, client):
    fill(client)
    reader = make_token(app, "reader", "read")
    headers = {"Accept": "text/csv", "Authorization": f"Bearer {reader}"}
    assert app.test_client().get("/resources/data", headers=headers).status_code == 200
    headers.pop("Authorization")
    assert app.test_client().get("/resources/data", headers=headers).status_code == 401
