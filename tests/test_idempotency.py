"""Idempotent create with an Idempotency-Key, on SQLite and Postgres."""

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from api.extensions import db
from api.models import IdempotencyKey, utcnow
from api.queries import EXPIRED_KEYS_PER_CREATE
from tests.conftest import bearer, build_app, dispose, make_token
from tests.test_people import COLLECTION, PETER, assert_problem

ANN = {"name": "ann", "age": 7, "locale": "LDN"}


def keyed(client, key, person=PETER, **kwargs):
    return client.put(COLLECTION, json=person, headers={"Idempotency-Key": key}, **kwargs)


def stored_keys(app):
    with app.app_context():
        rows = db.session.execute(sa.text("SELECT key, person_id FROM idempotency_keys"))
        return sorted(tuple(row) for row in rows)


def same_response(first, second):
    assert (second.status_code, second.data) == (first.status_code, first.data)
    for header in ("Location", "ETag", "Content-Type", "Cache-Control"):
        assert second.headers[header] == first.headers[header], header


def test_a_retried_create_gets_the_stored_response_and_no_new_person(app, client, stored_people):
    first = keyed(client, "k-1")
    assert first.status_code == 201
    person = first.get_json()
    for _ in range(3):
        same_response(first, keyed(client, "k-1"))
    assert stored_people() == [{"id": person["id"], **PETER}]
    assert stored_keys(app) == [("k-1", person["id"])]


def test_a_form_and_a_json_body_of_the_same_person_are_the_same_request(client, stored_people):
    form = 'data={"name": " peter ", "age": 42, "locale": "NYC"}'
    first = client.put(
        COLLECTION,
        data=form,
        content_type="application/x-www-form-urlencoded",
        headers={"Idempotency-Key": "k"},
    )
    assert first.status_code == 201
    reordered = json.dumps({"locale": "NYC", "age": 42, "name": "peter", "id": 7})
    key = {"Idempotency-Key": "k"}
    second = client.put(COLLECTION, data=reordered, content_type="application/json", headers=key)
    same_response(first, second)
    assert len(stored_people()) == 1


def test_the_same_key_with_a_different_body_is_422_and_creates_nothing(client, stored_people):
    first = keyed(client, "k")
    problem = assert_problem(keyed(client, "k", ANN), 422)
    assert "Idempotency-Key" in problem["detail"]
    assert stored_people() == [{"id": first.get_json()["id"], **PETER}]


def test_an_invalid_body_stores_no_key(app, client, stored_people):
    assert_problem(keyed(client, "k", {"name": ""}), 422)
    assert stored_keys(app) == [] and stored_people() == []
    assert keyed(client, "k").status_code == 201


def test_different_keys_create_different_people(client, stored_people):
    first, second = keyed(client, "a"), keyed(client, "b")
    assert first.get_json()["id"] != second.get_json()["id"]
    assert len(stored_people()) == 2


def test_keys_are_scoped_to_the_token(app, client, stored_people):
    other = app.test_client()
    other.environ_base["HTTP_AUTHORIZATION"] = bearer(make_token(app, "other"))["Authorization"]
    mine, theirs = keyed(client, "shared"), keyed(other, "shared", ANN)
    assert mine.status_code == theirs.status_code == 201
    assert mine.get_json()["id"] != theirs.get_json()["id"]
    same_response(theirs, keyed(other, "shared", ANN))
    assert len(stored_people()) == 2


def test_a_revoked_and_recreated_token_of_the_same_name_has_no_old_keys(app, stored_people):
    def client_of(secret):
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = bearer(secret)["Authorization"]
        return client

    old = keyed(client_of(make_token(app, "ci")), "k")
    revoked = app.test_cli_runner().invoke(args=["tokens", "revoke", "ci"])
    assert revoked.exit_code == 0, revoked.output
    assert stored_keys(app) == []
    new = keyed(client_of(make_token(app, "ci")), "k")
    assert new.status_code == 201 and new.get_json()["id"] != old.get_json()["id"]


def test_a_replay_returns_the_stored_response_after_the_person_changed(client):
    first = keyed(client, "k")
    location = first.headers["Location"]
    assert client.put(location, json=ANN).status_code == 200
    assert client.delete(location).status_code == 200
    same_response(first, keyed(client, "k"))


@pytest.mark.parametrize("key", ["", "x" * 256])
def test_an_empty_or_too_long_key_is_400(client, stored_people, key):
    problem = assert_problem(keyed(client, key), 400)
    assert "Idempotency-Key" in problem["detail"]
    assert stored_people() == []


def test_a_key_of_255_characters_is_kept_exactly(app, client):
    key = "é" + "x" * 253 + '"'  # taken as sent: quotes are part of it
    first = keyed(client, key)
    assert first.status_code == 201
    same_response(first, keyed(client, key))
    assert stored_keys(app) == [(key, first.get_json()["id"])]


def test_the_key_is_ignored_on_a_replace(client, stored_people):
    first = keyed(client, "k")
    location = first.headers["Location"]
    for person in (ANN, PETER):
        response = client.put(location, json=person, headers={"Idempotency-Key": "k"})
        assert response.status_code == 200 and response.get_json()["name"] == person["name"]


def age_keys(app, hours):
    with app.app_context():
        moment = utcnow() - timedelta(hours=hours)
        db.session.execute(sa.update(IdempotencyKey).values(created_at=moment))
        db.session.commit()


def test_an_expired_key_may_be_used_again(app, client, stored_people):
    first = keyed(client, "k")
    age_keys(app, 23.9)
    same_response(first, keyed(client, "k"))  # kept for 24 hours
    age_keys(app, 24.1)
    again = keyed(client, "k", ANN)  # expired: a new request, even with another body
    assert again.status_code == 201
    assert again.get_json()["id"] != first.get_json()["id"]
    assert len(stored_people()) == 2
    assert stored_keys(app) == [("k", again.get_json()["id"])]


def test_expired_keys_are_removed_by_keyed_creates_a_bounded_number_at_a_time(app, client):
    for number in range(EXPIRED_KEYS_PER_CREATE + 5):
        assert keyed(client, f"old {number}", {**PETER, "age": number % 150}).status_code == 201
    age_keys(app, 25)
    keyed(client, "new 1")
    assert len(stored_keys(app)) == 5 + 1
    keyed(client, "new 2")
    assert [key for key, _ in stored_keys(app)] == ["new 1", "new 2"]


def test_idempotency_key_hours_is_a_setting(database_url, stored_people):
    app = build_app(database_url, IDEMPOTENCY_KEY_HOURS=1)
    try:
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = bearer(make_token(app))["Authorization"]
        first = keyed(client, "k")
        age_keys(app, 1.1)
        assert keyed(client, "k").get_json()["id"] != first.get_json()["id"]
    finally:
        dispose(app)


def test_a_create_while_the_same_key_is_in_flight_is_409_on_postgres(make_database):
    """Another transaction holds the key, uncommitted, past the lock timeout (1 s here)."""
    app = build_app(make_database("postgres"), DATABASE_STATEMENT_TIMEOUT=1)
    try:
        with app.app_context():
            upgrade()
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = bearer(make_token(app))["Authorization"]
        with app.app_context(), db.engine.connect() as in_flight:
            token_id = in_flight.execute(sa.text("SELECT id FROM tokens")).scalar()
            in_flight.execute(
                sa.text(
                    "INSERT INTO idempotency_keys (token_id, key, fingerprint, person_id, "
                    "status, body, location, etag, created_at) "
                    "VALUES (:token, 'k', '', 1, 201, '', '', '', now())"
                ),
                {"token": token_id},
            )
            problem = assert_problem(keyed(client, "k"), 409)
            assert "still being processed" in problem["detail"]
            in_flight.rollback()  # the first request failed: the key is free again
        assert keyed(client, "k").status_code == 201
    finally:
        dispose(app)
