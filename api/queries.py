"""Statements that change one stored person, each one statement whose result decides.

Replace and delete used to read the person through the ORM and then write it back. A
delete that landed between the two made the write match no row, and SQLAlchemy's
StaleDataError answered 500. An UPDATE or DELETE ... RETURNING either finds the row or
does not, atomically, on Postgres and on SQLite (3.35 and later): no row means 404.
"""

import sqlalchemy as sa

from api.extensions import db
from api.models import Person, utcnow

people = Person.__table__


def one_statement_connection():
    """A pooled connection for a single statement (create, replace, delete).

    On Postgres it is in autocommit mode, which saves the BEGIN and COMMIT round trips;
    on SQLite the caller commits, as switching the driver's mode would cost a PRAGMA
    on every request.
    """
    connection = db.engine.connect()
    if connection.dialect.name != "sqlite":
        connection.execution_options(isolation_level="AUTOCOMMIT")
    return connection


def replace_person(connection, person_id, fields):
    """Set every field and updated_at; the stored row as it is now, or None if no row."""
    statement = (
        sa.update(people)
        .where(people.c.id == person_id)
        .values(**fields, updated_at=utcnow())  # created_at stays as it was
        .returning(*people.c)
    )
    return connection.execute(statement).mappings().one_or_none()


def delete_person(connection, person_id):
    """Delete the row; the row as it was, or None if there was none."""
    statement = sa.delete(people).where(people.c.id == person_id).returning(*people.c)
    return connection.execute(statement).mappings().one_or_none()
