"""Idempotent create: PUT /resources/data/ with an Idempotency-Key header.

The key's row, holding the response to replay, is inserted in the transaction that inserts
the person, after it: both are committed together or not at all, so a crash never leaves a
key without its person, nor a person whose retry would create a second one. A row exists
only once committed, so there is no "in progress" state to get stuck in. A second request
with the same key waits at its key INSERT (the unique constraint) for the first's
transaction: then the INSERT fails and the stored response is replayed, or, if the first
rolled back, it goes through. On SQLite writers are serialised anyway; on Postgres a wait
past lock_timeout is answered 409.
"""

import hashlib
import json
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, request, url_for
from werkzeug.exceptions import BadRequest, Conflict, UnprocessableEntity

from api import queries
from api.conditional import CACHE_CONTROL, etag
from api.extensions import auth, db
from api.metrics import metrics
from api.models import IDEMPOTENCY_KEY_MAX_LENGTH, person_document, utcnow

HEADER = "Idempotency-Key"
# Postgres: a lock wait past lock_timeout, or a statement past statement_timeout.
STILL_IN_PROGRESS = ("55P03", "57014")


def key_from_request():
    """The request's Idempotency-Key, taken as sent; None without one; 400 if unusable."""
    key = request.headers.get(HEADER)
    if key is not None and not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH:
        raise BadRequest(
            f"{HEADER} must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters long "
            "(a UUID is a good key)."
        )
    return key


def fingerprint(fields):
    """A hash of the validated fields: a form and a JSON body of one person are equal."""
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def create_once(key, fields):
    """Create the person and store the response under the key, or replay what is stored."""
    return once(key, fingerprint(fields), lambda connection: person_response(connection, fields))


def create_many_once(key, people):
    """A bulk create (api/bulk.py), once: all its people, or the stored response."""
    return once(key, fingerprint(people), lambda connection: people_response(connection, people))


def once(key, digest, create):
    """Run `create(connection)` (it returns the response's stored values and how many
    people it made) and store its response under the key, or replay what is stored."""
    token_id = auth.current_user().id
    now = utcnow()
    cutoff = now - timedelta(hours=current_app.config["IDEMPOTENCY_KEY_HOURS"])
    with db.engine.connect() as connection:
        queries.delete_expired_keys(connection, token_id, key, cutoff)
        connection.commit()  # on its own: the creating transaction stays short
        try:
            response, created = create(connection)
            stored = {"token_id": token_id, "key": key, "fingerprint": digest, **response}
            stored["created_at"] = now
            queries.insert_key(connection, stored)
            connection.commit()
        except sa.exc.IntegrityError:
            connection.rollback()  # the key was used: the person is not created either
            stored = None
        except sa.exc.OperationalError as error:
            if getattr(error.orig, "sqlstate", None) not in STILL_IN_PROGRESS:
                raise
            raise in_progress() from error
        if stored is not None:
            metrics.count_change("created", created)
            return stored_response(stored)
        stored = queries.find_key(connection, token_id, key)
    if stored is None:  # the first request's row expired or its token went meanwhile
        raise in_progress()
    if stored["fingerprint"] != digest:
        raise UnprocessableEntity(
            f"This {HEADER} was used for a create with a different body; use a new key "
            "for a new person."
        )
    return stored_response(stored)


def person_response(connection, fields):
    """Insert one person; the response to store: its body, URL and ETag."""
    person = queries.insert_person(connection, fields)
    response = {
        "person_id": person["id"],
        "status": 201,
        "body": current_app.json.dumps(person_document(person)) + "\n",
        "location": url_for("people.get_person", person_id=person["id"]),
        "etag": etag(person),
    }
    return response, 1


def people_response(connection, people):
    """Insert a bulk create's people; the response to store (no Location, no ETag: it
    names many people)."""
    rows = queries.insert_people_returning(connection, people)
    body = {"items": [person_document(row) for row in rows]}
    response = {"person_id": rows[0]["id"], "status": 201, "location": "", "etag": ""}
    return {**response, "body": current_app.json.dumps(body) + "\n"}, len(rows)


def stored_response(stored):
    """The response under a key: the first request's and every retry's, byte for byte."""
    headers = {"Location": stored["location"], "ETag": stored["etag"]}
    headers = {name: value for name, value in headers.items() if value}  # none for a bulk
    headers["Cache-Control"] = CACHE_CONTROL
    return current_app.response_class(
        stored["body"], status=stored["status"], mimetype="application/json", headers=headers
    )


def in_progress():
    return Conflict(f"A request with this {HEADER} is still being processed; retry in a moment.")
