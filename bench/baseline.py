"""The benchmark's yardstick: the same GET, PUT create and list with a bare driver, nothing
else.

No auth, no metrics, no ORM, no validation beyond what JSON parsing does. It shares the
service's durability settings (SQLite WAL and the `synchronous` pragma from config.py;
Postgres with its default synchronous_commit) so that the comparison is about code, not
about how much each one promises to keep.
"""

import sqlite3
import threading
from datetime import UTC, datetime

import psycopg
from flask import Flask, abort, request

from config import Config, normalise_database_url

SELECT_PERSON = "SELECT id, name, age, locale, created_at, updated_at FROM people WHERE id = {}"
INSERT_PERSON = (
    "INSERT INTO people (name, age, locale) VALUES ({0}, {0}, {0})"
    " RETURNING id, name, age, locale, created_at, updated_at"
)

# The listing's keyset page in id order (the default sort), one row more than the page to
# tell whether another follows; `after` plays the part of the service's cursor.
LIST_PEOPLE = (
    "SELECT id, name, age, locale, created_at, updated_at FROM people"
    " WHERE id > {0} ORDER BY id LIMIT {0}"
)


def sqlite_connector(path):
    def connect():
        connection = sqlite3.connect(path, timeout=Config.SQLITE_BUSY_TIMEOUT, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(f"PRAGMA synchronous={Config.SQLITE_SYNCHRONOUS}")
        return connection

    return connect, "?"


def postgres_connector(url):
    # Autocommit: each statement is its own transaction, committed durably when it returns.
    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
    return (lambda: psycopg.connect(conninfo, autocommit=True)), "%s"


def as_text(moment):
    """ISO 8601 with a Z, from a Postgres datetime or a SQLite 'YYYY-MM-DD HH:MM:SS' text."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment).replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def as_person(row):
    person_id, name, age, locale, created_at, updated_at = row
    return {
        "id": person_id,
        "name": name,
        "age": age,
        "locale": locale,
        "created_at": as_text(created_at),
        "updated_at": as_text(updated_at),
    }


def create_app():
    """A Flask app with one database connection per thread."""
    app = Flask(__name__)
    url = normalise_database_url(Config.DATABASE_URL or "")
    if url.startswith("sqlite:///"):
        connect, placeholder = sqlite_connector(url.removeprefix("sqlite:///"))
    else:
        connect, placeholder = postgres_connector(url)
    select_person = SELECT_PERSON.format(placeholder)
    insert_person = INSERT_PERSON.format(placeholder)
    list_people = LIST_PEOPLE.format(placeholder)
    local = threading.local()

    def connection():
        if getattr(local, "connection", None) is None:
            local.connection = connect()
        return local.connection

    @app.get("/resources/data/<int:person_id>")
    def get_person(person_id):
        """Return one person."""
        rows = connection().execute(select_person, (person_id,)).fetchall()
        if not rows:
            abort(404)
        return as_person(rows[0])

    @app.put("/resources/data/")
    def create_person():
        """Create a person from a JSON body."""
        body = request.get_json()
        values = (body["name"], body["age"], body["locale"])
        # fetchall: the statement runs to its end, so SQLite commits before the answer.
        [row] = connection().execute(insert_person, values).fetchall()
        return as_person(row), 201, {"Location": f"/resources/data/{row[0]}"}

    @app.get("/resources/data")
    def list_people_page():
        """A page of people in id order after the id `after`, and the next page's URL."""
        after = int(request.args.get("after", 0))
        limit = int(request.args.get("limit", 100))
        rows = connection().execute(list_people, (after, limit + 1)).fetchall()
        page = rows[:limit]
        next_url = None
        if len(rows) > limit:
            next_url = f"/resources/data?limit={limit}&after={page[-1][0]}"
        return {"items": [as_person(row) for row in page], "next": next_url}

    return app
