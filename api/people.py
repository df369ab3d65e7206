"""The people resource: the tutorial app's curl contract on /resources/data."""

from datetime import datetime

import sqlalchemy as sa
from flask import Blueprint, url_for
from werkzeug.exceptions import NotFound

from api import queries
from api.extensions import auth, db
from api.metrics import metrics
from api.models import PUBLIC_COLUMNS, Person, person_document, utcnow
from api.validation import person_from_request

bp = Blueprint("people", __name__)

# Only the canonical spelling of an id from 0 to 2**31 - 1 is routed (api/routing.py): any
# other is a 404 for every method, never a database overflow or a second URL for a person.
PERSON_URL = "/resources/data/<id:person_id>"

# The two hot paths skip the ORM (profiling showed its get() at a third of a GET's time).
# Create is one Core statement, built once. GET, the hottest, goes one step further: its
# SELECT runs on the pooled driver connection itself, which saved SQLAlchemy's execution
# layer, about 60 µs (SQLite) and 150 µs (Postgres) of CPU a request (in-process, min of 7).
people = Person.__table__
INSERT_PERSON = sa.insert(people).returning(*people.c)
SELECT_PERSON_SQL = {  # in each driver's placeholder style; the id is a bound parameter
    "sqlite": f"SELECT {', '.join(PUBLIC_COLUMNS)} FROM people WHERE id = ?",
    "postgresql": f"SELECT {', '.join(PUBLIC_COLUMNS)} FROM people WHERE id = %s",
}


def fetch_person(person_id):
    """The stored columns of one person, or None."""
    engine = db.engine
    dbapi_error = engine.dialect.loaded_dbapi.Error
    sql = SELECT_PERSON_SQL[engine.dialect.name]
    # Postgres: autocommit spares a lone SELECT the BEGIN and ROLLBACK round trips. It is
    # switched back, so whoever uses the pooled connection next gets transactions.
    postgres = engine.dialect.name == "postgresql"
    connection = None
    try:
        connection = engine.raw_connection()
        if postgres:
            connection.driver_connection.autocommit = True
        cursor = connection.cursor()
        cursor.execute(sql, (person_id,))
        row = cursor.fetchone()
        cursor.close()
        if postgres:
            connection.driver_connection.autocommit = False
    except dbapi_error as error:
        if connection is not None:
            connection.invalidate()  # a broken connection never goes back to the pool
        # Wrapped as SQLAlchemy wraps it (OperationalError and so on), so that errors.py
        # answers a database outage here with the same 503 as anywhere else.
        raise sa.exc.DBAPIError.instance(sql, (person_id,), error, dbapi_error) from error
    finally:
        if connection is not None:
            connection.close()
    if row is None:
        return None
    person = dict(zip(PUBLIC_COLUMNS, row, strict=True))
    for column in ("created_at", "updated_at"):
        if isinstance(person[column], str):  # SQLite stores datetimes as ISO text
            person[column] = datetime.fromisoformat(person[column])
    return person


def no_such_person(person_id):
    return NotFound(f"There is no person with id {person_id}.")


# Both spellings of the collection answer; a redirect would lose the body with curl.
@bp.put("/resources/data")
@bp.put("/resources/data/")
@auth.login_required(role="write")
def create_person():
    """Create a person; 201 with its URL in Location."""
    fields = person_from_request()
    now = utcnow()  # one moment for both (the column defaults would each take their own)
    values = {**fields, "created_at": now, "updated_at": now}
    with queries.one_statement_connection() as connection:
        person = connection.execute(INSERT_PERSON, values).mappings().one()
        connection.commit()  # on Postgres the INSERT has committed already
    metrics.count_change("created")
    location = url_for("people.get_person", person_id=person["id"])
    return person_document(person), 201, {"Location": location}


@bp.get(PERSON_URL)
@auth.login_required(role="read")
def get_person(person_id):
    """Return one person."""
    person = fetch_person(person_id)
    if person is None:
        raise no_such_person(person_id)
    return person_document(person)


@bp.put(PERSON_URL)
@auth.login_required(role="write")
def replace_person(person_id):
    """Replace every field of an existing person."""
    fields = person_from_request()
    with queries.one_statement_connection() as connection:
        person = queries.replace_person(connection, person_id, fields)
        connection.commit()
    if person is None:  # never stored, or deleted, perhaps a moment ago
        raise no_such_person(person_id)
    metrics.count_change("replaced")
    return person_document(person)


@bp.delete(PERSON_URL)
@auth.login_required(role="write")
def delete_person(person_id):
    """Delete a person and return what was deleted."""
    with queries.one_statement_connection() as connection:
        deleted = queries.delete_person(connection, person_id)
        connection.commit()
    if deleted is None:
        raise no_such_person(person_id)
    metrics.count_change("deleted")
    return person_document(deleted)
