"""GET /resources/data: filters, sorts, keyset pages and every bad parameter, on both
databases."""

import base64
import json
import uuid
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.extensions import db
from tests.conftest import (
    POSTGRES_URL,
    bearer,
    before_storage,
    build_app,
    dispose,
    make_token,
    migrate,
    new_migrated_database,
)
from tests.listing import (
    COLLECTION,
    all_people,
    expected_listing,
    first_url,
    person_values,
    store_people,
    walk,
)
from tests.test_people import assert_problem

SORTS = ["id", "name", "age", "created_at", "updated_at"]
SORTS += [f"-{sort}" for sort in SORTS]


@pytest.fixture(scope="module")
def listings(tmp_path_factory, request):
    """47 stored people with many shared names, ages and timestamps, stored once per
    database kind for the tests that only read them: a database, an app and a client of
    their own (a write token, used only to read). Tests that change people use `own_people`.
    Keyed by kind, not a module fixture on `database_kind`, which pytest may keep across
    the switch from a `before_storage` test to a Postgres one."""
    made = {}

    def listing(kind):
        if kind not in made:
            url = new_migrated_database(kind, tmp_path_factory.mktemp("listed"), request)
            app = build_app(url)
            try:
                store_people(app, 46)
                client = app.test_client()
                client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token(app)}"
                made[kind] = SimpleNamespace(app=app, client=client, people=all_people(client))
            except BaseException:
                dispose(app)
                raise
        return made[kind]

    yield listing
    for listed in made.values():
        dispose(listed.app)


@pytest.fixture
def listed(listings, database_kind):
    return listings(database_kind)


@pytest.fixture
def people(listed):
    return listed.people


@pytest.fixture
def reader(listed):
    """The shared people's client: the tests that take it only read."""
    return listed.client


@pytest.fixture
def own_people(app, client):
    """The same 47 people in this test's own database, for a test that changes them."""
    store_people(app, 46)
    return all_people(client)


def ids(items):
    return [item["id"] for item in items]


def test_the_first_page_shows_people_as_get_by_id_does(reader, people):
    response = reader.get(COLLECTION)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body == {"items": people, "next": None}  # 47 people fit in a page of 100
    assert "Link" not in response.headers and "X-Total-Count" not in response.headers


@pytest.mark.parametrize("path", ["/resources/data", "/resources/data/"])
def test_both_spellings_answer_without_a_redirect(reader, people, path):
    response = reader.get(f"{path}?limit=5&sort=-age")
    assert response.status_code == 200
    body = response.get_json()
    assert ids(body["items"]) == ids(expected_listing(people, {"sort": ["-age"]})[:5])
    assert urlsplit(body["next"]).path == path  # the next page keeps the client's spelling


@pytest.mark.parametrize("sort", SORTS)
def test_every_sort_walks_every_row_once_in_order(reader, people, sort):
    query = {"sort": [sort], "limit": ["4"]}
    assert walk(reader, query) == expected_listing(people, query)


@pytest.mark.parametrize(
    "query",
    [
        {"locale": ["NYC"]},
        {"locale": ["Zürich", "LDN"]},
        {"locale": ["nowhere"]},
        {"age_min": ["7"]},
        {"age_max": ["7"]},
        {"age_min": ["7"], "age_max": ["30"]},
        {"age_min": ["150"]},
        {"name_prefix": ["A"]},
        {"name_prefix": ["ann"]},
        {"name_prefix": ["á"]},
        {"name_prefix": ["a\U0010ffff"]},
        {"name_prefix": ["a"]},
        {"name_prefix": [""]},
        {"updated_after": ["2025-03-01T12:00:00.250000Z"]},
        {"updated_after": ["2025-03-01T13:00:00.250001+01:00"]},
        {"updated_after": ["2025-03-01T12:00:01.249999Z"]},
        {"locale": ["NYC", "LDN"], "age_min": ["1"], "name_prefix": ["B"]},
    ],
)
@pytest.mark.parametrize("sort", ["id", "-name", "age", "-updated_at"])
def test_every_filter_walks_exactly_the_matching_rows(reader, people, query, sort):
    query = {**query, "sort": [sort], "limit": ["3"]}
    expected = expected_listing(people, query)
    assert walk(reader, query) == expected
    assert len(expected) < len(people) or query.get("name_prefix") == [""]


def test_the_server_default_timestamps_page_with_the_others(listed, reader, people):
    # One stored person has timestamps from the database's default ('... HH:MM:SS' text on
    # SQLite, with no microseconds); it has to be found by updated_after and sort alike.
    with listed.app.app_context():
        count = db.session.execute(
            sa.text("SELECT count(*) FROM people WHERE name = 'Dee'")
        ).scalar()
    assert count == 1
    for sort in ("created_at", "-updated_at"):
        query = {"sort": [sort], "limit": ["1"], "updated_after": ["2025-03-02T12:00:00Z"]}
        items = walk(reader, query)
        assert items == expected_listing(people, query)
        assert "Dee" in [item["name"] for item in items]


def test_names_sort_by_code_point(reader, people):
    names = [item["name"] for item in walk(reader, {"sort": ["name"]})]
    assert names == sorted(names)  # Python compares strings by code point
    assert names.index("Ann") < names.index("B") < names.index("ann") < names.index("ánn")


def test_count_adds_the_number_of_matching_rows(reader, people):
    query = {"locale": ["NYC"], "limit": ["2"], "count": ["true"]}
    response = reader.get(first_url(query))
    matching = expected_listing(people, query)
    assert response.headers["X-Total-Count"] == str(len(matching))
    following = reader.get(response.get_json()["next"])  # count=true is kept in next
    assert following.headers["X-Total-Count"] == str(len(matching))
    assert "X-Total-Count" not in reader.get(f"{COLLECTION}?count=false").headers


def test_an_empty_result_is_an_empty_page(reader, people):
    response = reader.get(f"{COLLECTION}?locale=Atlantis&count=true")
    assert response.status_code == 200
    assert response.get_json() == {"items": [], "next": None}
    assert response.headers["X-Total-Count"] == "0"


def test_an_empty_table_is_an_empty_page(client):
    assert client.get(COLLECTION).get_json() == {"items": [], "next": None}


def test_next_keeps_the_filters_sort_and_limit(reader, people):
    response = reader.get(f"{COLLECTION}/?locale=NYC&locale=LDN&sort=-age&limit=2&age_min=1")
    next_url = response.get_json()["next"]
    assert next_url.startswith("/resources/data/?")
    kept = parse_qs(urlsplit(next_url).query)
    cursor = kept.pop("cursor")
    assert len(cursor) == 1 and cursor[0]
    assert kept == {"locale": ["NYC", "LDN"], "sort": ["-age"], "limit": ["2"], "age_min": ["1"]}


def test_limit_may_change_between_pages(reader, people):
    first = reader.get(f"{COLLECTION}?sort=name&limit=5").get_json()
    cursor = parse_qs(urlsplit(first["next"]).query)["cursor"][0]
    second = reader.get(f"{COLLECTION}?sort=name&limit=40&cursor={cursor}").get_json()
    expected = expected_listing(people, {"sort": ["name"]})
    assert first["items"] + second["items"] == expected[:45]


def test_rows_inserted_and_deleted_between_pages(app, client, own_people):
    """A row inserted ahead of the cursor shows up later; nothing passed comes back."""
    query = {"sort": ["age"], "limit": ["5"]}
    inserted, deleted, behind_inserts = [], [], []

    def change(page):
        shown_ids = set(ids(walked_so_far(page))) - set(deleted)
        # Delete one person not shown yet, and one shown already.
        now = expected_listing(current(), query)
        ahead = [person for person in now if person["id"] not in shown_ids]
        behind = [person for person in now if person["id"] in shown_ids]
        for person in (ahead[len(ahead) // 2], behind[0]):
            assert client.delete(f"{COLLECTION}/{person['id']}").status_code == 200
            deleted.append(person["id"])
        # Insert one person at each end of the order: age 150 is ahead, and age 0 is behind
        # once the pages have passed the people aged 0.
        passed_zero = pages_seen[-1][-1]["age"] > 0
        for age in (0, 150):
            created = client.put(COLLECTION, json={**person_values(page), "age": age})
            inserted.append(created.get_json())
            if age == 0 and passed_zero:
                behind_inserts.append(created.get_json()["id"])

    pages_seen = []

    def walked_so_far(page):
        return [item for items in pages_seen[:page] for item in items]

    def current():
        return all_people(client)

    url = first_url(query)
    while url:
        body = client.get(url).get_json()
        pages_seen.append(body["items"])
        url = body["next"]
        if url:
            change(len(pages_seen))
    walked = [item for items in pages_seen for item in items]
    assert len(ids(walked)) == len(set(ids(walked)))  # nothing twice
    walked_ids = set(ids(walked))
    # Everyone there from start to end was shown; every insert at age 150 was shown.
    stayed = {person["id"] for person in own_people} - set(deleted)
    assert stayed <= walked_ids
    ahead_inserts = {person["id"] for person in inserted if person["age"] == 150}
    assert ahead_inserts and ahead_inserts - set(deleted) <= walked_ids
    assert not set(deleted[::2]) & set(ids(walked))  # deleted before its page: not shown
    assert behind_inserts and not set(behind_inserts) & walked_ids
    ordered = [(item["age"], item["id"]) for item in walked]
    assert ordered == sorted(ordered)


def test_head_has_the_headers_and_no_body(reader, people):
    query = f"{COLLECTION}?limit=3&count=true&sort=-name"
    got, head = reader.get(query), reader.head(query)
    assert head.status_code == 200
    assert head.get_data() == b""
    for header in ("Link", "X-Total-Count", "Content-Type", "Content-Length"):
        assert head.headers[header] == got.headers[header]


def test_the_read_role_is_enough_and_no_token_is_401(app, own_people):
    client = app.test_client()
    assert_problem(client.get(COLLECTION), 401)
    assert client.head(COLLECTION).status_code == 401
    reader = bearer(make_token(app, "reader", "read"))
    assert client.get(COLLECTION, headers=reader).get_json()["items"] == own_people


BAD_PARAMETERS = [
    ("local=NYC", "local", "not a known parameter"),
    ("LIMIT=5", "LIMIT", "not a known parameter"),
    ("limit=0", "limit", "from 1 to 1000"),
    ("limit=1001", "limit", "from 1 to 1000"),
    ("limit=ten", "limit", "from 1 to 1000"),
    ("limit=+5", "limit", "from 1 to 1000"),
    ("limit=05", "limit", "from 1 to 1000"),
    ("limit=%D9%A3", "limit", "from 1 to 1000"),  # an Arabic-Indic three
    ("limit=", "limit", "from 1 to 1000"),
    ("limit=5&limit=6", "limit", "given once"),
    ("age_min=-1", "age_min", "from 0 to 150"),
    ("age_max=151", "age_max", "from 0 to 150"),
    ("age_max=4.5", "age_max", "from 0 to 150"),
    ("age_min=99999999999999999999", "age_min", "from 0 to 150"),
    ("age_min=30&age_max=7", "age_max", "less than age_min"),
    ("sort=nam", "sort", "must be one of"),
    ("sort=--id", "sort", "must be one of"),
    ("sort=+id", "sort", "must be one of"),
    ("sort=id,name", "sort", "must be one of"),
    ("sort=id&sort=name", "sort", "given once"),
    ("updated_after=yesterday", "updated_after", "with a timezone"),
    ("updated_after=2025-03-01T12:00:00", "updated_after", "with a timezone"),
    ("updated_after=2025-03-01", "updated_after", "with a timezone"),
    ("updated_after=0001-01-01T00:00:00%2B01:00", "updated_after", "with a timezone"),
    ("updated_after=2025-13-01T00:00:00Z", "updated_after", "with a timezone"),
    ("locale=", "locale", "not be empty"),
    ("locale=NYC%00", "locale", "control characters"),
    ("locale=" + "x" * 65, "locale", "at most 64"),
    ("locale=" + "&locale=".join(["x"] * 101), "locale", "at most 100 times"),
    ("name_prefix=a%00", "name_prefix", "control characters"),
    ("name_prefix=a%7F", "name_prefix", "control characters"),
    ("name_prefix=" + "x" * 201, "name_prefix", "at most 200"),
    ("count=yes", "count", "true or false"),
    ("count=1", "count", "true or false"),
    ("cursor=", "cursor", "not a cursor"),
    ("cursor=%%%", "cursor", "not a cursor"),
    ("cursor=bm90IGpzb24", "cursor", "not a cursor"),
]


@before_storage
@pytest.mark.parametrize(("query", "field", "message"), BAD_PARAMETERS)
def test_a_bad_parameter_is_a_400_that_names_it(reader, people, query, field, message):
    body = assert_problem(reader.get(f"{COLLECTION}?{query}"), 400)
    assert body["detail"] == "The query string has invalid parameters."
    assert [error["field"] for error in body["errors"]] == [field]
    assert message in body["errors"][0]["message"]


@before_storage
def test_every_bad_parameter_has_its_own_entry(reader):
    body = assert_problem(reader.get(f"{COLLECTION}?limit=0&local=NYC&sort=x&age_min=a"), 400)
    assert [error["field"] for error in body["errors"]] == ["limit", "local", "sort", "age_min"]


def cursor_of(client, url):
    return parse_qs(urlsplit(client.get(url).get_json()["next"]).query)["cursor"][0]


def encoded(payload):
    text = json.dumps(payload, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def decoded(cursor):
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


@pytest.mark.parametrize(
    "other",
    ["sort=-name", "sort=age", "sort=name&locale=NYC", "sort=name&name_prefix=A",
     "sort=name&updated_after=2025-01-01T00:00:00Z", "sort=name&age_max=149"],
)  # fmt: skip
def test_a_cursor_is_bound_to_its_filters_and_sort(reader, people, other):
    cursor = cursor_of(reader, f"{COLLECTION}?sort=name&limit=2")
    body = assert_problem(reader.get(f"{COLLECTION}?{other}&cursor={cursor}"), 400)
    assert body["errors"][0]["field"] == "cursor"
    assert "made for other filters or another sort" in body["errors"][0]["message"]


def test_the_locales_of_a_cursor_are_a_set(reader, people):
    cursor = cursor_of(reader, f"{COLLECTION}?locale=NYC&locale=LDN&limit=2")
    response = reader.get(f"{COLLECTION}?locale=LDN&locale=NYC&limit=2&cursor={cursor}")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "tamper",
    [
        lambda payload: {**payload, "id": True},
        lambda payload: {**payload, "id": "5"},
        lambda payload: {**payload, "id": -1},
        lambda payload: {**payload, "id": 2**31},
        lambda payload: {**payload, "v": 5},
        lambda payload: {**payload, "v": "a\u0000"},
        lambda payload: {**payload, "v": "\ud800"},
        lambda payload: {**payload, "v": ""},
        lambda payload: {**payload, "v": None},
        lambda payload: {**payload, "extra": 1},
        lambda payload: {key: value for key, value in payload.items() if key != "v"},
        lambda payload: {**payload, "q": 7},
        lambda payload: [payload],
    ],
)
def test_a_tampered_cursor_is_a_400(reader, people, tamper):
    cursor = cursor_of(reader, f"{COLLECTION}?sort=name&limit=2")
    forged = encoded(tamper(decoded(cursor)))
    body = assert_problem(reader.get(f"{COLLECTION}?sort=name&cursor={forged}"), 400)
    assert body["errors"][0]["field"] == "cursor"
    assert "not a cursor this service made" in body["errors"][0]["message"]


@pytest.mark.parametrize("sort", ["age", "-created_at", "id"])
def test_a_cursor_of_the_wrong_type_for_its_sort_is_a_400(reader, people, sort):
    cursor = cursor_of(reader, f"{COLLECTION}?sort={sort}&limit=2")
    payload = decoded(cursor)
    payload["v"] = "not a timestamp" if "created_at" in sort else 3.5
    if sort == "id":
        payload["v"] = 1
    body = assert_problem(
        reader.get(f"{COLLECTION}?sort={sort}&cursor={encoded(payload)}"), 400
    )
    assert body["errors"][0]["field"] == "cursor"


def test_a_crafted_cursor_only_names_a_position(reader, people):
    # No secret is needed: a well-formed cursor for the same query names a position.
    cursor = cursor_of(reader, f"{COLLECTION}?sort=age&limit=2")
    payload = {**decoded(cursor), "v": 30, "id": 0}
    items = reader.get(f"{COLLECTION}?sort=age&cursor={encoded(payload)}").get_json()["items"]
    expected = [p for p in expected_listing(people, {"sort": ["age"]}) if p["age"] >= 30]
    assert items == expected


QUERIES = st.fixed_dictionaries(
    {},
    optional={
        "locale": st.lists(st.sampled_from(["NYC", "LDN", "Zürich", "x"]), min_size=1, max_size=3),
        "age_min": st.sampled_from(["0", "7", "30", "42"]).map(lambda value: [value]),
        "age_max": st.sampled_from(["7", "30", "150"]).map(lambda value: [value]),
        "name_prefix": st.sampled_from(["", "a", "A", "An", "ann", "á", "B", "Z"]).map(
            lambda value: [value]
        ),
        "updated_after": st.sampled_from(
            ["2025-03-01T12:00:00.250000Z", "2025-03-01T12:00:01Z", "2000-01-01T00:00:00Z"]
        ).map(lambda value: [value]),
        "sort": st.sampled_from(SORTS).map(lambda value: [value]),
        "limit": st.integers(1, 12).map(lambda value: [str(value)]),
    },
)


def test_pages_agree_with_a_model_of_the_listing(reader, people):
    """Any combination of filters, sort and limit, walked to the end, gives exactly the
    matching people once each, in order."""

    @settings(
        max_examples=40,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(QUERIES)
    def check(query):
        if int(query.get("age_min", ["0"])[0]) > int(query.get("age_max", ["150"])[0]):
            query = {key: value for key, value in query.items() if key != "age_max"}
        assert walk(reader, query) == expected_listing(people, query)

    check()


@pytest.fixture
def icu_postgres_app(postgres_admin):
    """An app on a Postgres database whose default collation is ICU's en-US, as hosted
    Postgres often has: there 'ann' sorts between 'A' and 'B'."""
    name = f"people_icu_{uuid.uuid4().hex[:12]}"
    postgres_admin.execute(
        f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' "
        "LOCALE 'C.UTF-8'"
    )
    url = sa.make_url(POSTGRES_URL).set(database=name).render_as_string(False)
    migrate(url)
    app = build_app(url)
    yield app
    dispose(app)
    postgres_admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_name_prefix_and_sort_ignore_the_database_collation(icu_postgres_app):
    app = icu_postgres_app
    with app.app_context():
        assert db.session.execute(sa.text("SELECT 'ann' < 'B'")).scalar()  # really en-US
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token(app)}"
    names = ["ann", "Ann", "Anna", "B", "ánn", "b", "An", "A\U0010ffff", "A\U0010ffffz", "Á"]
    for name in names:
        response = client.put(COLLECTION, json={"name": name, "age": 1, "locale": "x"})
        assert response.status_code == 201
    listed = [item["name"] for item in walk(client, {"sort": ["name"], "limit": ["3"]})]
    assert listed == sorted(names)  # code-point order: "B" before "ann"
    for prefix in ["A", "An", "ann", "á", "A\U0010ffff", "B", "b", "Z", ""]:
        items = walk(client, {"name_prefix": [prefix], "sort": ["-name"], "limit": ["2"]})
        expected = sorted((name for name in names if name.startswith(prefix)), reverse=True)
        assert [item["name"] for item in items] == expected, prefix
