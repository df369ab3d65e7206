"""Helpers for the listing's tests: people stored directly, a model of the listing in
Python, and a client that follows `next` to the end."""

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import sqlalchemy as sa

from api.extensions import db
from api.models import Person

COLLECTION = "/resources/data"
# Duplicates on purpose: the id has to break ties on every sort.
NAMES = ("ann", "Ann", "Anna", "B", "ánn", "bob", "Bob", "ann", "Zoë", "a\U0010ffff")
AGES = (7, 7, 30, 150, 0, 42)
LOCALES = ("NYC", "LDN", "Zürich", "NYC")
BASE = datetime(2025, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)
MOMENTS = tuple(BASE + timedelta(seconds=seconds, microseconds=micro) for seconds, micro in (
    (0, 0), (0, 1), (1, 999_999), (3600, 0), (0, 0), (86_400, 7)
))  # fmt: skip


def person_values(number):
    return {
        "name": NAMES[number % len(NAMES)],
        "age": AGES[number % len(AGES)],
        "locale": LOCALES[number % len(LOCALES)],
        "created_at": MOMENTS[number % len(MOMENTS)],
        "updated_at": MOMENTS[(number * 5) % len(MOMENTS)],
    }


def store_people(app, count, start=0):
    """Store `count` people straight into the table; a few of them with the database's
    own default timestamps, as rows loaded by hand or by an older version have."""
    rows = [person_values(number) for number in range(start, start + count)]
    with app.app_context():
        db.session.execute(sa.insert(Person), rows)
        db.session.execute(
            sa.text("INSERT INTO people (name, age, locale) VALUES ('Dee', 30, 'LDN')")
        )
        db.session.commit()


def all_people(client):
    """Every stored person as GET /resources/data/<id> shows them: the plain query."""
    with client.application.app_context():
        ids = db.session.scalars(sa.select(Person.id).order_by(Person.id)).all()
    return [client.get(f"{COLLECTION}/{person_id}").get_json() for person_id in ids]


def moment(text):
    return datetime.fromisoformat(text)


SORT_VALUES = {
    "id": lambda person: person["id"],
    "name": lambda person: person["name"],
    "age": lambda person: person["age"],
    "created_at": lambda person: moment(person["created_at"]),
    "updated_at": lambda person: moment(person["updated_at"]),
}


def expected_listing(people, query):
    """What the listing must give for `query` (a dict of lists), by the README's rules."""

    def matches(person):
        if "locale" in query and person["locale"] not in query["locale"]:
            return False
        if "age_min" in query and person["age"] < int(query["age_min"][0]):
            return False
        if "age_max" in query and person["age"] > int(query["age_max"][0]):
            return False
        if "name_prefix" in query and not person["name"].startswith(query["name_prefix"][0]):
            return False
        after = query.get("updated_after")
        return not after or moment(person["updated_at"]) > moment(after[0])

    sort = query.get("sort", ["id"])[0]
    column = sort.lstrip("-")
    chosen = [person for person in people if matches(person)]
    return sorted(
        chosen,
        key=lambda person: (SORT_VALUES[column](person), person["id"]),
        reverse=sort.startswith("-"),
    )


def first_url(query):
    return f"{COLLECTION}?{urlencode(query, doseq=True)}" if query else COLLECTION


def walk(client, query, between_pages=None, max_pages=1000):
    """Follow `next` from the first page to the last; every page's Link agrees with it."""
    url, items, pages = first_url(query), [], 0
    while url is not None:
        response = client.get(url)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert set(body) == {"items", "next"}
        limit = int(query.get("limit", [100])[0])
        assert len(body["items"]) <= limit
        if body["next"] is None:
            assert "Link" not in response.headers
        else:
            assert len(body["items"]) == limit
            assert response.headers["Link"] == f'<{body["next"]}>; rel="next"'
        items += body["items"]
        url = body["next"]
        pages += 1
        assert pages <= max_pages
        if between_pages is not None and url is not None:
            between_pages(pages)
    return items
