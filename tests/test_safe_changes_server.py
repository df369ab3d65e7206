"""Conditional writes and keyed creates racing through a real gunicorn, on both databases.

Each test sends 20 requests at once (a barrier releases them together) to 3 workers of 4
threads, so they really overlap in the database; each takes a few seconds.
"""

import http.client
import json
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from api.extensions import db
from tests.conftest import bearer
from tests.helpers import poll
from tests.servers import gunicorn, gunicorn_server, request

pytestmark = pytest.mark.server

JSON = {"Content-Type": "application/json"}
CLIENTS = 20


@pytest.fixture
def server(database_url, tmp_path):
    with gunicorn(database_url, tmp_path / "gunicorn.log", workers=3) as base_url:
        yield base_url


def all_at_once(send):
    """Call send(number) from CLIENTS threads released together; the answers, in order."""
    barrier = threading.Barrier(CLIENTS)

    def client(number):
        barrier.wait(timeout=30)
        return send(number)

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        return list(pool.map(client, range(CLIENTS)))


def create(base_url, headers, person):
    created = request(base_url, "PUT", "/resources/data/", json.dumps(person), headers)
    assert created.status == 201, created.body
    return created.headers["Location"], created.headers["ETag"]


def test_concurrent_replaces_with_one_etag_have_one_winner(server, write_token, stored_people):
    headers = {**JSON, **bearer(write_token)}
    location, etag = create(server, headers, {"name": "start", "age": 1, "locale": "NYC"})

    def replace(number):
        body = json.dumps({"name": f"writer {number}", "age": number, "locale": "NYC"})
        return request(server, "PUT", location, body, {**headers, "If-Match": etag}, timeout=30)

    answers = all_at_once(replace)
    statuses = sorted(answer.status for answer in answers)
    assert statuses == [200] + [412] * (CLIENTS - 1), statuses
    winner = next(number for number, answer in enumerate(answers) if answer.status == 200)
    person_id = int(location.rsplit("/", 1)[1])
    assert stored_people() == [
        {"id": person_id, "name": f"writer {winner}", "age": winner, "locale": "NYC"}
    ]
    current = request(server, "GET", location, headers=headers)
    assert current.headers["ETag"] == answers[winner].headers["ETag"] != etag


def test_concurrent_deletes_with_one_etag_have_one_winner(server, write_token, stored_people):
    headers = bearer(write_token)
    location, etag = create(server, {**JSON, **headers}, {"name": "x", "age": 1, "locale": "y"})

    def delete(number):
        return request(server, "DELETE", location, None, {**headers, "If-Match": etag}, timeout=30)

    statuses = [answer.status for answer in all_at_once(delete)]
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 404, 412}, statuses
    assert stored_people() == []


def test_concurrent_creates_with_one_key_create_one_person(server, write_token, stored_people):
    headers = {**JSON, **bearer(write_token), "Idempotency-Key": "one key"}
    body = json.dumps({"name": "once", "age": 1, "locale": "NYC"})
    answers = all_at_once(
        lambda number: request(server, "PUT", "/resources/data/", body, headers, timeout=30)
    )
    created = [answer for answer in answers if answer.status == 201]
    assert {answer.status for answer in answers} <= {201, 409}, [a.status for a in answers]
    assert created, "no request created the person"
    # Every 201 is the stored response: one body, one Location, one ETag.
    assert len({(a.body, a.headers["Location"], a.headers["ETag"]) for a in created}) == 1
    rows = stored_people()
    assert rows == [{"id": created[0].json()["id"], "name": "once", "age": 1, "locale": "NYC"}]


def test_a_killed_worker_leaves_no_key_without_its_person(
    database_url, tmp_path, write_token, stored_people, app
):
    """SIGKILL a worker while 8 clients send keyed creates; then retry every key sent."""
    headers = {**JSON, **bearer(write_token)}
    sent, answered, stop = [], [], threading.Event()

    def writer(number):
        count = 0
        while not stop.is_set():
            count += 1
            key = f"{number}-{count}"
            sent.append(key)
            try:
                answer = send(key)
            # The killed worker's connection: reset, or closed in the middle of its answer.
            except (OSError, http.client.HTTPException):
                continue
            assert answer.status in (201, 409), answer.body
            answered.append(key)

    def send(key):
        body = json.dumps({"name": key, "age": 1, "locale": "NYC"})
        keyed = {**headers, "Idempotency-Key": key}
        return request(base_url, "PUT", "/resources/data/", body, keyed, timeout=30)

    with gunicorn_server(database_url, tmp_path / "gunicorn.log", workers=3) as server:
        base_url = server.base_url
        poll(lambda: len(server.worker_pids()) == 3, 30, "3 workers never booted")
        victim = server.worker_pids()[0]
        threads = [threading.Thread(target=writer, args=(number,)) for number in range(8)]
        for thread in threads:
            thread.start()
        try:
            poll(lambda: len(answered) >= 40, 30, "no creates before the kill")
            os.kill(victim, signal.SIGKILL)
            after_kill = len(answered)
            poll(lambda: len(answered) >= after_kill + 40, 30, "creates did not resume")
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        rows = stored_people()
        names = [row["name"] for row in rows]
        assert len(names) == len(set(names))  # no key created two people
        # Retry every key: a create cut off by the kill is made now, the others replayed.
        for key in sent:
            answer = send(key)
            assert answer.status == 201, answer.body
            assert answer.json()["name"] == key
    rows = stored_people()
    assert sorted(row["name"] for row in rows) == sorted(sent)
    with app.app_context():
        orphans = db.session.execute(
            sa.text(
                "SELECT count(*) FROM idempotency_keys k "
                "LEFT JOIN people p ON p.id = k.person_id WHERE p.id IS NULL"
            )
        ).scalar()
        keys = db.session.execute(sa.text("SELECT count(*) FROM idempotency_keys")).scalar()
    assert orphans == 0 and keys == len(sent)
