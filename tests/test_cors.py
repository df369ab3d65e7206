"""CORS: none by default; for the origins CORS_ORIGINS names, preflights answered without a
token and the headers a browser client needs, never credentials.

tests/test_docs_browser.py checks the same from a real browser on a second origin.
"""

from tests.conftest import bearer, make_token

ORIGIN = "http://app.example:8080"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "PUT",
    "Access-Control-Request-Headers": "authorization, content-type, if-match, idempotency-key",
}


def split(value):
    return {item.strip().lower() for item in (value or "").split(",") if item.strip()}


def test_no_cors_headers_by_default(make_app, sqlite_database):
    app = make_app(sqlite_database)
    client = app.test_client()
    secret = make_token(app)
    answers = [
        client.options("/resources/data/1", headers=PREFLIGHT),
        client.get("/resources/data", headers={"Origin": ORIGIN, **bearer(secret)}),
        client.get("/resources/data", headers={"Origin": ORIGIN}),
    ]
    for response in answers:
        assert not [name for name in response.headers.keys() if name.startswith("Access-Control")]


def test_a_preflight_from_an_allowed_origin_needs_no_token(make_app, sqlite_database):
    app = make_app(sqlite_database, CORS_ORIGINS=f"https://other.example, {ORIGIN}/")
    response = app.test_client().options("/resources/data/1", headers=PREFLIGHT)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert split(response.headers["Access-Control-Allow-Headers"]) >= {
        "authorization", "content-type", "if-match", "idempotency-key"
    }  # fmt: skip
    assert "PUT" in response.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "Origin" in response.headers["Vary"]


def test_responses_to_an_allowed_origin_expose_the_api_headers(make_app, sqlite_database):
    app = make_app(sqlite_database, CORS_ORIGINS=ORIGIN)
    client = app.test_client()
    headers = {"Origin": ORIGIN, **bearer(make_token(app))}
    created = client.put(
        "/resources/data", json={"name": "ann", "age": 7, "locale": "LDN"}, headers=headers
    )
    assert created.status_code == 201
    assert created.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert split(created.headers["Access-Control-Expose-Headers"]) >= {
        "etag", "link", "location", "retry-after", "x-request-id", "x-total-count"
    }  # fmt: skip
    assert "Access-Control-Allow-Credentials" not in created.headers
    # Errors too: a browser client can read why it was refused.
    refused = client.get("/resources/data", headers={"Origin": ORIGIN})
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_another_origin_gets_no_cors_headers(make_app, sqlite_database):
    app = make_app(sqlite_database, CORS_ORIGINS=ORIGIN)
    client = app.test_client()
    preflight = client.options(
        "/resources/data/1", headers={**PREFLIGHT, "Origin": "http://evil.example"}
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    response = client.get(
        "/resources/data", headers={"Origin": "http://evil.example", **bearer(make_token(app))}
    )
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
