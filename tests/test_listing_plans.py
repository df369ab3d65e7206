"""The listing's query plans: the combinations the README calls index-served read an
index, never the whole table, and sort nothing. (A range filter with sort=id is not among
them: the README says why.)

SQLite's planner is asked on a table large enough, analysed, for its choice to mean
something; Postgres's with sequential scans and sorts priced out (enable_seqscan and
enable_sort off), so that a plan that still reads the whole table or sorts shows that no
index could serve it. (On a table this small Postgres may prefer a bitmap scan and a sort
of a few hundred matching rows, which is cheap here; the test is that an index can serve.)
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from api import queries
from api.cursors import encode_cursor
from api.extensions import db
from api.listing import parse_listing
from api.models import Person
from tests.conftest import build_app, dispose, new_migrated_database

ROWS = 30_000
START = datetime(2025, 1, 1, tzinfo=UTC)
CURSOR_VALUES = {
    "id": None,
    "name": "name 1250",
    "age": 10,
    "created_at": None,  # filled in from a stored row: the stored form differs per database
    "updated_at": None,
}
# (query string, index the plan must read). Every sort, each way, first page and later.
SERVED = [(f"sort={sign}{column}", None) for column in CURSOR_VALUES for sign in ("", "-")]
SERVED += [
    ("locale=L3", "ix_people_locale_id"),
    ("locale=L3&sort=-id", "ix_people_locale_id"),
    ("age_min=12&age_max=12", "ix_people_age_id"),
    ("age_min=12&sort=age", "ix_people_age_id"),
    ("age_max=3&sort=-age", "ix_people_age_id"),
    ("name_prefix=name 12&sort=name", "ix_people_name_id"),
    ("name_prefix=name 12&sort=-name", "ix_people_name_id"),
    ("updated_after=2025-01-01T05:00:00Z&sort=updated_at", "ix_people_updated_at_id"),
    ("updated_after=2025-01-01T05:00:00Z&sort=-updated_at", "ix_people_updated_at_id"),
]
@pytest.fixture(scope="module")
def large_app(database_kind, tmp_path_factory, request):
    """One migrated, analysed table of ROWS people per database, for the whole module."""
    url = new_migrated_database(database_kind, tmp_path_factory.mktemp("plans"), request)
    app = build_app(url)
    rows = [
        {
            # Groups much larger than a page, as in a real table, where reading the
            # matching rows and sorting them costs more than reading them in order.
            "name": f"name {number % 3000}",
            "age": number % 20,
            "locale": f"L{number % 5}",
            "created_at": START + timedelta(seconds=number),
            "updated_at": START + timedelta(seconds=ROWS - number),
        }
        for number in range(ROWS)
    ]
    with app.app_context():
        db.session.execute(sa.insert(Person), rows)
        db.session.commit()
        with db.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
    yield app
    dispose(app)


def stored_moment(connection, column):
    """A stored timestamp in the form the listing's cursor carries it."""
    return connection.exec_driver_sql(f"SELECT {column} FROM people WHERE id = 100").scalar()


def plan(connection, query, with_cursor):
    """The plan of the page statement for `query`, as a list of its lines or nodes."""
    listing = parse_listing(MultiDict([part.split("=") for part in query.split("&")]))
    if with_cursor:
        value = CURSOR_VALUES[listing.sort_column]
        if listing.sort_column in ("created_at", "updated_at"):
            value = stored_moment(connection, listing.sort_column)
        cursor = encode_cursor(listing.digest, 10_000, value)
        listing = parse_listing(MultiDict([*(p.split("=") for p in query.split("&")),
                                           ("cursor", cursor)]))  # fmt: skip
    sql, parameters = queries.page_sql(listing, connection.dialect.name)
    cursor = connection.connection.driver_connection.cursor()
    if connection.dialect.name == "sqlite":
        return [row[-1] for row in cursor.execute(f"EXPLAIN QUERY PLAN {sql}", parameters)]
    # Priced out, not forbidden: a plan that still has one shows no index could serve.
    cursor.execute("SET enable_seqscan = off")
    cursor.execute("SET enable_sort = off")
    cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", parameters)
    [(document,)] = cursor.fetchall()
    return list(nodes(json.loads(json.dumps(document))[0]["Plan"]))


def nodes(node):
    yield node
    for child in node.get("Plans", ()):
        yield from nodes(child)


def reads_whole_table(steps, query=""):
    if isinstance(steps[0], str):  # SQLite: a SCAN without an index reads every row...
        if query in ("sort=id", "sort=-id"):
            # ...except in id order: then the table is its own index (the rowid b-tree),
            # walked in order and stopped by the LIMIT.
            if steps == ["SCAN people"]:
                return False
        return any(step.startswith("SCAN people") and "INDEX" not in step for step in steps)
    return any(node["Node Type"] == "Seq Scan" for node in steps)


def sorts(steps):
    if isinstance(steps[0], str):
        return any("TEMP B-TREE" in step for step in steps)
    return any(node["Node Type"] in ("Sort", "Incremental Sort") for node in steps)


def uses_index(steps, index):
    if isinstance(steps[0], str):
        return any(f"INDEX {index} " in f"{step} " for step in steps)
    return any(node.get("Index Name") == index for node in steps)


@pytest.mark.parametrize("with_cursor", [False, True], ids=["first page", "by cursor"])
@pytest.mark.parametrize(("query", "index"), SERVED)
def test_served_combinations_read_an_index_in_order(large_app, query, index, with_cursor):
    with large_app.app_context(), db.engine.connect() as connection:
        steps = plan(connection, query, with_cursor)
    assert not reads_whole_table(steps, query), steps
    assert not sorts(steps), steps
    if index:  # in id order, the primary key with the filter applied is as good
        by_id = "sort" not in query or "sort=-id" in query
        assert uses_index(steps, index) or by_id and uses_index(steps, "pk_people"), steps
