"""Under load and faults: concurrent writers, a killed worker, a Postgres outage, bad input.

The server tests drive a real gunicorn on 127.0.0.1 for a few seconds each; every wait
polls with a deadline. The property test throws generated requests at every route
through the test client and checks the stored rows against a model after each one.
"""

import http.client
import io
import json
import os
import signal
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.extensions import db
from tests.conftest import bearer, make_token
from tests.helpers import end_postgres_sessions, poll
from tests.servers import gunicorn, gunicorn_server, request

JSON = {"Content-Type": "application/json"}
PROBLEM = "application/problem+json"




class Outcome:
    """One attempted create: what was sent and what came back (status None: no answer)."""

    def __init__(self, sent, status=None, body=b"", content_type=None, seconds=0.0):
        self.sent = sent
        self.status = status
        self.body = body
        self.content_type = content_type
        self.seconds = seconds

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.content_type} {self.body[:200]!r} {self.seconds:.2f} s>"


class WriteLoad:
    """Threads that create people over HTTP until stopped, recording every outcome."""

    def __init__(self, base_url, token, writers, label):
        self.base_url = base_url
        self.headers = {**JSON, **bearer(token)}
        self.label = label
        self.outcomes = []
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self.write, args=(number,), daemon=True)
            for number in range(writers)
        ]

    def write(self, writer):
        count = 0
        while not self.stop.is_set():
            count += 1
            sent = {"name": f"{self.label} {writer}-{count}", "age": count % 151, "locale": "NYC"}
            started = time.monotonic()
            try:
                response = request(
                    self.base_url, "PUT", "/resources/data/", json.dumps(sent), self.headers
                )
            except (OSError, http.client.HTTPException):
                self.outcomes.append(Outcome(sent, seconds=time.monotonic() - started))
                continue
            self.outcomes.append(
                Outcome(
                    sent,
                    response.status,
                    response.body,
                    response.headers.get("Content-Type"),
                    time.monotonic() - started,
                )
            )

    def count(self, status):
        return sum(1 for outcome in list(self.outcomes) if outcome.status == status)

    def run_for(self, seconds):
        """Let the writers run for `seconds` of load (not a wait for the server)."""
        self.stop.wait(seconds)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in self.threads)


def assert_acknowledged_writes_are_stored(outcomes, stored_rows):
    """Every 2xx is stored with the values sent; nothing is stored that was not sent."""
    stored = {row["id"]: row for row in stored_rows}
    acknowledged = [outcome for outcome in outcomes if outcome.status == 201]
    for outcome in acknowledged:
        row = stored[outcome.json()["id"]]
        assert {key: row[key] for key in outcome.sent} == outcome.sent
    sent_names = {outcome.sent["name"] for outcome in outcomes}
    assert {row["name"] for row in stored_rows} <= sent_names
    assert len(acknowledged) <= len(stored_rows) <= len(outcomes)


@pytest.mark.server
def test_32_concurrent_writers_on_3_workers(database_url, tmp_path, write_token, stored_people):
    """Every write answers 201, and the rows are exactly the acknowledged writes."""
    with gunicorn(database_url, tmp_path / "gunicorn.log", workers=3) as base_url:
        with WriteLoad(base_url, write_token, writers=32, label="writer") as load:
            load.run_for(3)
    statuses = {outcome.status for outcome in load.outcomes}
    assert statuses == {201}, statuses
    rows = stored_people()
    assert len(rows) == load.count(201) > 32
    assert_acknowledged_writes_are_stored(load.outcomes, rows)


@pytest.mark.server
def test_killed_worker_loses_no_acknowledged_write(
    database_url, tmp_path, write_token, stored_people
):
    """SIGKILL a worker mid-load: writes that got a 2xx are stored; gunicorn carries on."""
    with gunicorn_server(database_url, tmp_path / "gunicorn.log", workers=3) as server:
        # The first worker may answer the liveness probe before the others have booted.
        poll(lambda: len(server.worker_pids()) == 3, 30, "3 workers never booted")
        workers = server.worker_pids()
        with WriteLoad(server.base_url, write_token, writers=8, label="killed") as load:
            poll(lambda: load.count(201) >= 50, 30, "no writes before the kill")
            os.kill(workers[0], signal.SIGKILL)
            poll(
                lambda: len(server.worker_pids()) == 3 and workers[0] not in server.worker_pids(),
                30,
                "gunicorn did not replace the killed worker",
            )
            after_kill = load.count(201)
            poll(lambda: load.count(201) >= after_kill + 50, 30, "writes did not resume")
        answer = request(server.base_url, "GET", "/resources/data/1", headers=bearer(write_token))
        assert answer.status == 200
    # A request on the killed worker may get no answer; none gets a 5xx.
    assert {outcome.status for outcome in load.outcomes} <= {201, None}
    assert_acknowledged_writes_are_stored(load.outcomes, stored_people())


@pytest.mark.server
def test_postgres_outage_is_a_fast_503_and_heals(postgres_database, postgres_admin, tmp_path):
    """Connections killed and refused for a while: 503s at once, then recovery alone."""
    url, app, token = postgres_database
    name = sa.make_url(url).database
    timeout_seconds = 2
    environment = {"DATABASE_CONNECT_TIMEOUT": str(timeout_seconds)}
    with gunicorn(url, tmp_path / "gunicorn.log", workers=2, env=environment) as base_url:
        with WriteLoad(base_url, token, writers=8, label="outage") as load:
            poll(lambda: load.count(201) >= 30, 30, "no writes before the outage")
            postgres_admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            try:
                end_postgres_sessions(postgres_admin, "datname = %s", (name,))
                poll(lambda: load.count(503) >= 20, 20, "no 503 during the outage")
                read = request(base_url, "GET", "/resources/data/1", headers=bearer(token))
                assert read.status == 503 and read.headers["Content-Type"] == PROBLEM
                assert read.headers["Retry-After"] == "1"
                assert read.json()["status"] == 503
            finally:
                postgres_admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            healed = time.monotonic()
            before = load.count(201)
            poll(lambda: load.count(201) >= before + 30, 10, "the service did not recover")
            recovery_seconds = time.monotonic() - healed
    assert recovery_seconds < 10
    unexpected = [outcome for outcome in load.outcomes if outcome.status not in (201, 503)]
    assert not unexpected
    assert {outcome.status for outcome in load.outcomes} == {201, 503}
    for outcome in load.outcomes:
        if outcome.status == 503:
            assert outcome.content_type == PROBLEM and outcome.json()["status"] == 503
        # Far below the worker timeout (25 s): a refused connection fails fast.
        assert outcome.seconds < timeout_seconds + 3
    with app.app_context():
        rows = db.session.execute(sa.text("SELECT id, name, age, locale FROM people"))
        assert_acknowledged_writes_are_stored(load.outcomes, [dict(row._mapping) for row in rows])


# Bad input at scale: generated requests, and a model of what the valid ones must do.

NAME_LIMIT, LOCALE_LIMIT = 200, 64
printable_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


def clean_text(limit):
    """A valid field: printable after trimming, with optional white space around it."""
    core = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=limit)
    core = core.map(str.strip).filter(bool)
    padding = st.sampled_from(["", " ", "  \t", "\n"])
    return st.tuples(padding, core, padding).map(lambda parts: "".join(parts))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(any_text, children, max_size=3)
    ),
    max_leaves=8,
)
valid_people = st.fixed_dictionaries(
    {
        "name": clean_text(NAME_LIMIT),
        "age": st.integers(0, 150),
        "locale": clean_text(LOCALE_LIMIT),
    },
    optional={"id": json_values, "created_at": json_values, "updated_at": json_values},
)


def trimmed(person, keys=("name", "age", "locale")):
    """The fields the service stores from a valid document (or a valid merge patch)."""
    return {key: person[key].strip() if key != "age" else person[key] for key in keys}


@st.composite
def invalid_documents(draw):
    """(A JSON text that parses or not, but is never a valid person; the fields it holds
    if it is a valid merge patch, else None)."""
    person = draw(valid_people)
    mutation = draw(
        st.sampled_from(
            ["age", "name", "locale", "missing", "unknown", "not object", "text", "any value"]
        )
    )
    if mutation == "age":
        person["age"] = draw(st.sampled_from([-1, 151, True, 42.0, "42", None, 10**30]))
    elif mutation in ("name", "locale"):
        limit = NAME_LIMIT if mutation == "name" else LOCALE_LIMIT
        bad = ["", "  ", "x" * (limit + 1), 5, None, "a\x00b", "a\x1bb", "\ud800", ["x"]]
        person[mutation] = draw(st.sampled_from(bad))
    elif mutation == "missing":  # valid as a merge patch: the fields left are changed
        missing = draw(st.sampled_from(["name", "age", "locale"]))
        del person[missing]
        kept = [key for key in ("name", "age", "locale") if key != missing]
        return json.dumps(person), trimmed(person, kept)
    elif mutation == "unknown":
        person[draw(any_text.filter(lambda key: key not in person))] = draw(json_values)
    elif mutation == "not object":
        return json.dumps(draw(st.sampled_from([[person], "person", 42, None]))), None
    elif mutation == "text":
        text = json.dumps(person)
        broken = [
            text[:-1],
            text.replace('"age": ' + json.dumps(person["age"]), '"age": NaN'),
            text[:-1] + ', "age": 1}',
            "",
            text + " " * 17_000,
        ]
        return draw(st.sampled_from(broken)), None
    else:
        value = draw(json_values)
        if isinstance(value, dict) and {"name", "age", "locale"} <= set(value):
            value = [value]
        return json.dumps(value), None
    return json.dumps(person), None


FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"
JSON_TYPES = ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"]
OTHER_TYPES = ["text/plain", "application/xml", "application/jsonx", "multipart/mixed"]


@st.composite
def bodies(draw):
    """(request keyword arguments, the fields a valid body holds, the fields a valid merge
    patch holds): each None when the body is not one."""
    if draw(st.booleans()):
        person = draw(valid_people)
        text = json.dumps(person, ensure_ascii=draw(st.booleans()))
        fields = patch = trimmed(person)
    else:
        (text, patch), fields = draw(invalid_documents()), None
    arguments, accepted = draw(encodings(text))
    return arguments, (fields if accepted else None), (patch if accepted else None)


@st.composite
def encodings(draw, text):
    """(request keyword arguments, whether the service reads a body so encoded)."""
    encoding = draw(st.sampled_from(["json", "form", "multipart", "file", "other", "bytes"]))
    if encoding == "json":
        return {"data": text.encode(), "content_type": draw(st.sampled_from(JSON_TYPES))}, True
    if encoding == "form":
        return {"data": urllib.parse.urlencode({"data": text}), "content_type": FORM_TYPE}, True
    if encoding == "multipart":
        return {"data": {"data": text}, "content_type": MULTIPART_TYPE}, True
    if encoding == "file":
        upload = (io.BytesIO(text.encode()), "person.json")
        return {"data": {"data": upload}, "content_type": MULTIPART_TYPE}, True
    if encoding == "other":
        content_type = draw(st.sampled_from(OTHER_TYPES) | printable_text)
        mimetype = content_type.split(";")[0].strip().lower()
        if mimetype in ("application/json", FORM_TYPE, MULTIPART_TYPE) or mimetype.endswith(
            "+json"
        ):
            content_type = "text/plain"
        return {"data": text.encode(), "content_type": content_type}, False
    content_type = draw(st.sampled_from([*JSON_TYPES, FORM_TYPE, *OTHER_TYPES]))
    return {"data": draw(st.binary(max_size=200)), "content_type": content_type}, False


PATHS = ["collection", "collection slash", "existing", "missing", "junk"]
JUNK_PATHS = [
    "/",
    "/resources",
    "/resources/data/abc",
    "/resources/data/-1",
    "/resources/data/2147483648",
    "/resources/data/1.5",
    "/resources/data//1",
    "/resources/data/1/x",
    "/resources/data/01",
    "/resources/data/\uff11",
    "/resources/data/\u0661",
]


@st.composite
def generated_requests(draw):
    return {
        "method": draw(
            st.sampled_from(["GET", "PUT", "PUT", "DELETE", "POST", "PATCH", "HEAD", "OPTIONS"])
        ),
        "path": draw(st.sampled_from(PATHS)),
        "pick": draw(st.integers(0, 1000)),
        "junk": draw(st.sampled_from(JUNK_PATHS) | printable_text.map(lambda text: "/" + text)),
        "auth": draw(st.sampled_from(["write", "read", "none", "unknown", "scheme", "garbage"])),
        "garbage": draw(printable_text),
        "headers": draw(
            st.dictionaries(
                st.sampled_from(["Accept", "User-Agent", "Content-Encoding", "X-Request-Id"]),
                printable_text,
                max_size=2,
            )
        ),
        "body": draw(bodies()),
    }


def test_generated_requests_never_fail_or_corrupt(app, stored_people):
    """Never a 5xx; the rows change only as the valid requests among them say."""
    tokens = {"write": make_token(app, "writer"), "read": make_token(app, "reader", "read")}
    client = app.test_client()
    for number in range(5):
        person = {"name": f"seed {number}", "age": number, "locale": "NYC"}
        created = client.put("/resources/data/", json=person, headers=bearer(tokens["write"]))
        assert created.status_code == 201
    model = {row.pop("id"): row for row in stored_people()}
    authorizations = {
        "write": f"Bearer {tokens['write']}",
        "read": f"Bearer {tokens['read']}",
        "unknown": "Bearer pplapi_" + "A" * 43,
        "scheme": f"Basic {tokens['write']}",
    }

    @settings(
        max_examples=120,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(generated_requests())
    def check(generated):
        existing = sorted(model)
        person_id = existing[generated["pick"] % len(existing)] if existing else 10**6
        path = {
            "collection": "/resources/data",
            "collection slash": "/resources/data/",
            "existing": f"/resources/data/{person_id}",
            "missing": f"/resources/data/{10**6 + generated['pick']}",
            "junk": generated["junk"],
        }[generated["path"]]
        headers = dict(generated["headers"])
        authorization = authorizations.get(generated["auth"], generated["garbage"])
        if generated["auth"] != "none":
            headers["Authorization"] = authorization
        arguments, fields, patch = generated["body"]
        method = generated["method"]
        response = client.open(path, method=method, headers=headers, **arguments)
        assert response.status_code < 500, response.get_data(as_text=True)

        writer = generated["auth"] == "write"
        expected = dict(model)
        if method == "PUT" and writer and fields is not None:
            if generated["path"].startswith("collection"):
                assert response.status_code == 201
                expected[response.get_json()["id"]] = fields
            elif generated["path"] == "existing" and existing:
                assert response.status_code == 200
                expected[person_id] = fields
        elif method == "PATCH" and writer and patch is not None:
            if generated["path"] == "existing" and existing:
                assert response.status_code == 200
                expected[person_id] = {**model[person_id], **patch}
        elif method == "DELETE" and writer and generated["path"] == "existing" and existing:
            assert response.status_code == 200
            del expected[person_id]
        if expected == model and method in ("PUT", "DELETE", "POST", "PATCH"):
            assert response.status_code >= 400
        stored = {row.pop("id"): row for row in stored_people()}
        assert stored == expected
        model.clear()
        model.update(expected)

    check()


def test_connection_lost_after_the_response_is_made_is_not_a_500(postgres_database, postgres_admin):
    """The request's connection dies before its closing ROLLBACK: the answer stands."""
    url, app, token = postgres_database
    terminating = []

    @app.after_request
    def terminate_connection(response):
        if terminating:
            backend = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar()
            end_postgres_sessions(postgres_admin, "pid = %s", (backend,))
        return response

    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    created = client.put("/resources/data/", json={"name": "a", "age": 1, "locale": "x"})
    assert created.status_code == 201
    terminating.append(True)
    assert client.get(created.headers["Location"]).status_code == 200
    terminating.clear()
    assert client.get(created.headers["Location"]).status_code == 200


@pytest.mark.server
def test_replace_racing_a_delete_is_200_or_404_never_500(
    database_url, tmp_path, write_token, stored_people
):
    """Two replaces and a delete of one person at the same moment, for many people.

    The delete always finds the person (200, the person as it was); a replace answers 200
    when it landed first and a 404 problem once the person is gone, never a 500.
    """
    headers = {**JSON, **bearer(write_token)}
    original = {"name": "racer", "age": 1, "locale": "NYC"}
    with gunicorn(database_url, tmp_path / "gunicorn.log", workers=3) as base_url:

        def call(method, person_id="", sent=None):
            body = None if sent is None else json.dumps(sent)
            path = f"/resources/data/{person_id}"
            response = request(base_url, method, path, body, headers, timeout=30)
            return response.status, response.json()

        def attempt(barrier, method, person_id, sent):
            barrier.wait(timeout=30)  # the three requests of one person leave together
            return call(method, person_id, sent)

        people = {}
        for _ in range(120):
            status, created = call("PUT", sent=original)
            assert status == 201, created
            people[created["id"]] = {}
        with ThreadPoolExecutor(max_workers=24) as pool:
            for person_id, requests in people.items():
                barrier = threading.Barrier(3)
                for label, method, sent in [
                    ("first", "PUT", {"name": f"first {person_id}", "age": 2, "locale": "LDN"}),
                    ("delete", "DELETE", None),
                    ("second", "PUT", {"name": f"second {person_id}", "age": 3, "locale": "SF"}),
                ]:
                    future = pool.submit(attempt, barrier, method, person_id, sent)
                    requests[label] = (sent, future)

    replace_statuses = []
    for person_id, requests in people.items():
        answers = {label: (sent, *future.result()) for label, (sent, future) in requests.items()}
        replaced = []
        for label in ("first", "second"):
            sent, status, document = answers[label]
            replace_statuses.append(status)
            if status == 200:
                assert {key: document[key] for key in sent} == sent
                replaced.append(document)
            else:
                assert status == 404, document
                assert document["status"] == 404 and str(person_id) in document["detail"]
        _, status, deleted = answers["delete"]
        assert status == 200, deleted
        # What the delete answers is what it deleted: the original or one replace's result.
        assert {key: deleted[key] for key in original} == original or deleted in replaced
    # Both orders really happened, or the test proved nothing about the race.
    assert {200, 404} <= set(replace_statuses), replace_statuses
    assert stored_people() == []
