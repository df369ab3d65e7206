"""The people resource: the tutorial app's curl contract on /resources/data."""

import sqlalchemy as sa
from flask import Blueprint, url_for
from werkzeug.exceptions import NotFound

from api.extensions import auth, db, metrics
from api.models import Person, person_document, utcnow
from api.validation import person_from_request

bp = Blueprint("people", __name__)

# Ids beyond the 32-bit primary key are not routed: a 404, never a database overflow.
PERSON_URL = "/resources/data/<int(max=2147483647):person_id>"

# The two hot paths are single Core statements, built once: no session, identity map
# or refresh after commit (profiling showed the ORM's get() at a third of a GET's time).
people = Person.__table__
SELECT_PERSON = sa.select(people).where(people.c.id == sa.bindparam("person_id"))
INSERT_PERSON = sa.insert(people).returning(*people.c)


def one_statement_connection():
    """A pooled connection for a single statement, with no transaction round trips.

    On Postgres it is in autocommit mode, which saves the BEGIN and the closing ROLLBACK;
    SQLite's driver opens no transaction for a SELECT, and switching its mode would
    cost a PRAGMA on every request.
    """
    connection = db.engine.connect()
    if connection.dialect.name != "sqlite":
        connection.execution_options(isolation_level="AUTOCOMMIT")
    return connection


def no_such_person(person_id):
    return NotFound(f"There is no person with id {person_id}.")


def get_person_or_404(person_id):
    person = db.session.get(Person, person_id)
    if person is None:
        raise no_such_person(person_id)
    return person


# Both spellings of the collection answer; a redirect would lose the body with curl.
@bp.put("/resources/data")
@bp.put("/resources/data/")
@auth.login_required(role="write")
def create_person():
    """Create a person; 201 with its URL in Location."""
    fields = person_from_request()
    with one_statement_connection() as connection:
        person = connection.execute(INSERT_PERSON, fields).mappings().one()
        connection.commit()  # on Postgres the INSERT has committed already
    metrics.count_change("created")
    location = url_for("people.get_person", person_id=person["id"])
    return person_document(person), 201, {"Location": location}


@bp.get(PERSON_URL)
@auth.login_required(role="read")
def get_person(person_id):
    """Return one person."""
    with one_statement_connection() as connection:
        person = connection.execute(SELECT_PERSON, {"person_id": person_id}).mappings().first()
    if person is None:
        raise no_such_person(person_id)
    return person_document(person)


@bp.put(PERSON_URL)
@auth.login_required(role="write")
def replace_person(person_id):
    """Replace every field of an existing person."""
    fields = person_from_request()
    person = get_person_or_404(person_id)
    for name, value in fields.items():
        setattr(person, name, value)
    person.updated_at = utcnow()
    db.session.commit()
    metrics.count_change("replaced")
    return person.to_dict()


@bp.delete(PERSON_URL)
@auth.login_required(role="write")
def delete_person(person_id):
    """Delete a person and return what was deleted."""
    person = get_person_or_404(person_id)
    deleted = person.to_dict()
    db.session.delete(person)
    db.session.commit()
    metrics.count_change("deleted")
    return deleted
