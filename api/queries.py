"""Every SQL statement the people routes run, in one place.

Each is one statement whose result decides. Replace and delete used to read the person
through the ORM and then write it back; a delete landing between the two made the write
match no row, and SQLAlchemy's StaleDataError answered 500. An UPDATE or DELETE ...
RETURNING either finds the row or does not, atomically, on Postgres and on SQLite (3.35 and
later): no row means 404. The hot paths skip the ORM (profiling showed its get() at a third
of a GET's time).
"""

from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from api.extensions import db
from api.models import PUBLIC_COLUMNS, SORTED_COLUMNS, IdempotencyKey, Person, utcnow

people = Person.__table__
INSERT_PERSON = sa.insert(people).returning(*people.c)
# What GET reads: the public fields and the version, for the ETag.
PERSON_COLUMNS = (*PUBLIC_COLUMNS, "version")
# GET and create, the hottest paths, run on a driver connection (api/driver.py), in
# each driver's placeholder style, every value a bound parameter.
SELECT_PERSON_SQL = {
    "sqlite": f"SELECT {', '.join(PERSON_COLUMNS)} FROM people WHERE id = ?",
    "postgresql": f"SELECT {', '.join(PERSON_COLUMNS)} FROM people WHERE id = %s",
}
CREATED_COLUMNS = ("name", "age", "locale", "created_at", "updated_at")
INSERT_PERSON_SQL = {
    dialect: f"INSERT INTO people ({', '.join(CREATED_COLUMNS)})"
    f" VALUES ({', '.join([placeholder] * len(CREATED_COLUMNS))})"
    f" RETURNING {', '.join(PERSON_COLUMNS)}"
    for dialect, placeholder in (("sqlite", "?"), ("postgresql", "%s"))
}


def one_statement_connection():
    """A pooled connection for a single statement (replace, patch, delete).

    On Postgres it is in autocommit mode, which saves the BEGIN and COMMIT round trips;
    on SQLite the caller commits, as switching the driver's mode would cost a PRAGMA
    on every request.
    """
    connection = db.engine.connect()
    if connection.dialect.name != "sqlite":
        connection.execution_options(isolation_level="AUTOCOMMIT")
    return connection


def driver():
    """The app's driver connections (api/driver.py): `.dialect` says which SQL to run,
    `.rows()` runs it."""
    return current_app.extensions["driver_connections"]


def from_driver_row(row, columns=PERSON_COLUMNS):
    """A driver row as a mapping of `columns`, the timestamps as datetimes."""
    person = dict(zip(columns, row, strict=True))
    for column in ("created_at", "updated_at"):
        if isinstance(person[column], str):  # SQLite stores datetimes as ISO text
            person[column] = datetime.fromisoformat(person[column])
    return person


def fetch_person(person_id):
    """The stored columns of one person, or None."""
    database = driver()
    rows = database.rows(SELECT_PERSON_SQL[database.dialect], (person_id,))
    return from_driver_row(rows[0]) if rows else None


def create_person(fields):
    """Store a new person, committed; its stored columns (id, timestamps, version)."""
    database = driver()
    now = timestamp_bound(utcnow(), database.dialect)  # one moment for both timestamps
    parameters = (fields["name"], fields["age"], fields["locale"], now, now)
    [row] = database.rows(INSERT_PERSON_SQL[database.dialect], parameters, commit=True)
    return from_driver_row(row)


def insert_person(connection, fields):
    """Store a new person in the connection's transaction (a keyed create, whose key row
    must commit with it); its row, id and timestamps included."""
    now = utcnow()  # one moment for both (the column defaults would each take their own)
    values = {**fields, "created_at": now, "updated_at": now}
    return connection.execute(INSERT_PERSON, values).mappings().one()


def insert_people_returning(connection, batch):
    """Store a bulk create's people (one statement, or a few for many); their rows, in the
    order given."""
    now = utcnow()
    values = [{**fields, "created_at": now, "updated_at": now} for fields in batch]
    statement = sa.insert(people).returning(*people.c, sort_by_parameter_order=True)
    return connection.execute(statement, values).mappings().all()


def create_people(batch):
    """A bulk create in one transaction: every person stored, or (on any error) none."""
    with db.engine.begin() as connection:
        return insert_people_returning(connection, batch)


def at_version(person_id, versions):
    """The person's row, only at one of `versions` unless that is None (an empty set: never)."""
    condition = people.c.id == person_id
    if versions is not None:
        condition &= people.c.version.in_(versions)
    return condition


def update_person(connection, person_id, fields, versions=None):
    """Set the given fields (all of them for a replace), updated_at, and the next version;
    the stored row as it is now, or None if no row matched.

    `versions` (from If-Match) is part of the WHERE: the check and the write are one
    statement, so of two writers that read the same version only one finds it.
    """
    statement = (
        sa.update(people)
        .where(at_version(person_id, versions))
        .values(**fields, updated_at=utcnow(), version=people.c.version + 1)
        .returning(*people.c)
    )
    return connection.execute(statement).mappings().one_or_none()


def delete_person(connection, person_id, versions=None):
    """Delete the row (only at one of `versions`, if given); the row as it was, or None."""
    statement = sa.delete(people).where(at_version(person_id, versions)).returning(*people.c)
    return connection.execute(statement).mappings().one_or_none()


keys = IdempotencyKey.__table__
# Expired keys removed by one keyed create at most: the cost of a create stays bounded even
# after a quiet day leaves many behind (the next keyed creates take the rest).
EXPIRED_KEYS_PER_CREATE = 100


def delete_expired_keys(connection, token_id, key, cutoff):
    """Remove this key if it expired, and up to EXPIRED_KEYS_PER_CREATE other expired keys."""
    oldest = (
        sa.select(keys.c.id)
        .where(keys.c.created_at < cutoff)
        .order_by(keys.c.created_at)
        .limit(EXPIRED_KEYS_PER_CREATE)
    )
    this_key = (keys.c.token_id == token_id) & (keys.c.key == key) & (keys.c.created_at < cutoff)
    connection.execute(sa.delete(keys).where(keys.c.id.in_(oldest.scalar_subquery()) | this_key))


def insert_key(connection, values):
    """Store a key with its response; IntegrityError if the token has used the key already."""
    connection.execute(sa.insert(keys), values)


def find_key(connection, token_id, key):
    """The stored key row of this token, or None."""
    statement = sa.select(keys).where((keys.c.token_id == token_id) & (keys.c.key == key))
    return connection.execute(statement).mappings().one_or_none()


# A listing page's columns: the person's, then its sort column as stored (SQLite's
# timestamps are text, and text is what its index compares; see seek_sql).
PAGE_COLUMNS = (*PUBLIC_COLUMNS, "sort_value")
PLACEHOLDERS = {"sqlite": "?", "postgresql": "%s"}


def list_people(listing):
    """One keyset page of the listing, plus one row to tell whether another page follows.

    Each row holds the person's columns and `sort_value`, its sort column as stored.
    """
    database = driver()
    sql, parameters = page_sql(listing, database.dialect)
    return [from_driver_row(row, PAGE_COLUMNS) for row in database.rows(sql, parameters)]


def count_people(listing):
    """How many people match the listing's filters (every page's, not just this one's)."""
    database = driver()
    conditions, parameters = filter_sql(listing, database.dialect)
    [(count,)] = database.rows(f"SELECT count(*) FROM people{where(conditions)}", parameters)
    return count


def page_sql(listing, dialect):
    """The page's SQL and its parameters, in the driver's placeholder style.

    Built from fixed pieces: column names come from the listing's checked sort (never from
    the request's text), every value is a bound parameter.
    """
    sort = listing.sort_column
    if sort not in ("id", *SORTED_COLUMNS):
        raise ValueError(f"not a sort column: {sort!r}")
    conditions, parameters = filter_sql(listing, dialect)
    if listing.after is not None:
        condition, values = seek_sql(listing, dialect)
        conditions.append(condition)
        parameters += values
    direction = " DESC" if listing.descending else ""
    order = ", ".join(f"{column}{direction}" for column in dict.fromkeys((sort, "id")))
    sql = (
        f"SELECT {', '.join(PUBLIC_COLUMNS)}, {sort} AS sort_value FROM people"
        f"{where(conditions)} ORDER BY {order} LIMIT {PLACEHOLDERS[dialect]}"
    )
    return sql, [*parameters, listing.limit + 1]


def where(conditions):
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""


def timestamp_bound(moment, dialect):
    """An aware UTC datetime as the column stores it on this database."""
    if dialect == "sqlite":  # the text SQLAlchemy writes: UTC, no offset, microseconds
        return moment.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return moment


def filter_sql(listing, dialect):
    """The conditions of the listing's filters (joined by AND) and their parameters."""
    mark = PLACEHOLDERS[dialect]
    filters = listing.filters
    conditions, parameters = [], []
    if "locale" in filters:
        conditions.append(f"locale IN ({', '.join([mark] * len(filters['locale']))})")
        parameters += filters["locale"]
    if "age_min" in filters and filters["age_min"] == filters.get("age_max"):
        # An equality, which the (age, id) index serves in id order; a range it cannot.
        conditions.append(f"age = {mark}")
        parameters.append(filters["age_min"])
    else:
        if "age_min" in filters:
            conditions.append(f"age >= {mark}")
            parameters.append(filters["age_min"])
        if "age_max" in filters:
            conditions.append(f"age <= {mark}")
            parameters.append(filters["age_max"])
    if filters.get("name_prefix"):  # the empty prefix begins every name
        low, high = prefix_range(filters["name_prefix"])
        conditions.append(f"name >= {mark}")
        parameters.append(low)
        if high is not None:
            conditions.append(f"name < {mark}")
            parameters.append(high)
    if "updated_after" in filters:
        # SQLite compares the stored text with text of the same form (timestamp_bound).
        conditions.append(f"updated_at > {mark}")
        parameters.append(timestamp_bound(filters["updated_after"], dialect))
    return conditions, parameters


def prefix_range(prefix):
    """(low, high): the names starting with `prefix` are those from low up to, not
    including, high (None: no upper bound), a range an index on the column serves.

    The column compares by code point on both databases (api/models.py), where the names
    with a prefix are exactly those from the prefix up to the prefix with its last
    character replaced by the next code point (dropping trailing U+10FFFF, which has none;
    surrogates are skipped, as no stored text holds them).
    """
    stem = prefix.rstrip(chr(0x10FFFF))
    if not stem:
        return prefix, None
    following = ord(stem[-1]) + 1
    following = 0xE000 if 0xD800 <= following < 0xE000 else following
    return prefix, stem[:-1] + chr(following)


def seek_sql(listing, dialect):
    """The rows after the cursor's, in the sort's direction; the id breaks ties.

    A row-value comparison, `(sort, id) > (:value, :id)`: both databases serve it from the
    (sort, id) index as one range, where an OR of two conditions may not be. On SQLite a
    timestamp is compared as the text it is stored as, which is what the cursor holds: a
    value read back as a datetime and bound again would be written with microseconds that
    a server default's text ('2026-12-01 09:30:00') lacks, so equal moments would compare
    unequal and a page could skip rows.
    """
    mark = PLACEHOLDERS[dialect]
    operator = "<" if listing.descending else ">"
    after_id, value = listing.after
    if listing.sort_column == "id":
        return f"id {operator} {mark}", [after_id]
    if dialect != "sqlite" and listing.sort_column in ("created_at", "updated_at"):
        value = datetime.fromisoformat(value)  # the cursor holds Postgres's isoformat()
    return f"({listing.sort_column}, id) {operator} ({mark}, {mark})", [value, after_id]


# Bulk import (api/bulk.py): the fastest way each driver has, measured by bench/bulk.py.
# SQLite: the driver's executemany of one prepared INSERT. Postgres: COPY FROM STDIN,
# several times faster than an executemany of INSERTs.
BULK_COLUMNS = ("name", "age", "locale", "created_at", "updated_at")
INSERT_PEOPLE_SQLITE = (
    f"INSERT INTO people ({', '.join(BULK_COLUMNS)}) VALUES ({', '.join('?' * 5)})"
)
COPY_PEOPLE = f"COPY people ({', '.join(BULK_COLUMNS)}) FROM STDIN"


def insert_people(connection, batch):
    """Store a batch of checked people in the connection's transaction; how many."""
    dialect = connection.dialect.name
    now = timestamp_bound(utcnow(), dialect)
    cursor = connection.connection.driver_connection.cursor()
    try:
        if dialect == "sqlite":
            rows = ((p["name"], p["age"], p["locale"], now, now) for p in batch)
            cursor.executemany(INSERT_PEOPLE_SQLITE, rows)
        else:
            with cursor.copy(COPY_PEOPLE) as copy:
                for person in batch:
                    copy.write_row((person["name"], person["age"], person["locale"], now, now))
    finally:
        cursor.close()
    return len(batch)
