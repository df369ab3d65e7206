"""JSON logs: a line for every request, with the request id the response shows."""

import json
import re
import select

import pytest

from api.logs import BACKLOG_BYTES, BATCH_BYTES, LineWriter, writer
from tests.conftest import bearer, before_storage, make_token
from tests.helpers import poll
from tests.servers import gunicorn, request
from tests.test_people import PETER

PERSON_ROUTE = "/resources/data/<id:person_id>"


def log_lines(capsys):
    """Every line written to stdout so far, each parsed as JSON."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_one_json_line_per_request_with_its_request_id(app, capsys):
    secret = make_token(app, "ci-writer", "write")
    client = app.test_client()
    capsys.readouterr()
    created = client.put("/resources/data/", json=PETER, headers=bearer(secret))
    fetched = client.get("/resources/data/1", headers=bearer(secret))
    missing = client.get("/nowhere")
    created_line, fetched_line, missing_line = log_lines(capsys)

    assert created_line["request_id"] == created.headers["X-Request-ID"]
    assert fetched_line["request_id"] == fetched.headers["X-Request-ID"]
    assert missing_line["request_id"] == missing.headers["X-Request-ID"]
    assert len({created_line["request_id"], fetched_line["request_id"]}) == 2
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", fetched_line["time"])
    assert fetched_line["duration_ms"] >= 0
    del fetched_line["time"], fetched_line["duration_ms"], fetched_line["request_id"]
    assert fetched_line == {
        "level": "INFO",
        "message": "request",
        "method": "GET",
        "path": "/resources/data/1",
        "route": PERSON_ROUTE,
        "status": 200,
        "token": "ci-writer",
        "client": "127.0.0.1",
    }
    assert created_line["status"] == 201 and created_line["route"] == "/resources/data/"
    assert missing_line["route"] is None and missing_line["token"] is None


def test_the_token_itself_is_never_logged(app, capsys):
    secret = make_token(app, "careful", "read")
    client = app.test_client()
    client.get("/resources/data/1", headers=bearer(secret))
    client.put("/resources/data/", json=PETER, headers=bearer(secret))  # 403
    client.get("/resources/data/1", headers=bearer(secret + "x"))  # 401
    output = capsys.readouterr().out
    assert secret not in output and secret.removeprefix("pplapi_")[:20] not in output
    assert [line["token"] for line in map(json.loads, output.splitlines())] == [
        "careful",
        "careful",
        None,
    ]


@before_storage  # /healthz never reads the database
@pytest.mark.parametrize(
    "incoming", ["f0e1d2c3-b4a5-4697-8879-6a5b4c3d2e1f", "req:7/abc+=_.@-1", "x" * 200]
)
def test_an_incoming_request_id_is_kept(app, capsys, incoming):
    response = app.test_client().get("/healthz", headers={"X-Request-ID": incoming})
    assert response.headers["X-Request-ID"] == incoming
    assert log_lines(capsys)[-1]["request_id"] == incoming


@before_storage
@pytest.mark.parametrize(
    "incoming", ["", "x" * 201, "has space", 'quote"', "semi;colon", "new\\nline", "é"]
)
def test_an_unsafe_request_id_is_replaced(app, capsys, incoming):
    response = app.test_client().get("/healthz", headers={"X-Request-ID": incoming})
    generated = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert log_lines(capsys)[-1]["request_id"] == generated


@before_storage
def test_any_text_in_a_line_is_escaped_json_in_ascii(database_url, make_app, capsys):
    # The path and the address the trusted proxy forwarded can hold any text.
    client = "an\\address\té<script>"
    app = make_app(database_url, TRUSTED_PROXY_HOPS=1)
    capsys.readouterr()
    app.test_client().get('/nowhere/é"\\x%01✓', headers={"X-Forwarded-For": client})
    [output] = capsys.readouterr().out.splitlines()
    assert output.isascii()
    line = json.loads(output)
    assert line["path"] == '/nowhere/é"\\x\x01✓' and line["client"] == client
    assert line["route"] is None and line["token"] is None and line["status"] == 404
    assert list(line) == [
        "time", "level", "message", "request_id", "method", "path", "route", "status",
        "duration_ms", "token", "client",
    ]  # fmt: skip


def test_an_error_has_its_traceback_in_the_log_only(database_url, capsys, make_app):
    app = make_app.broken(database_url)
    capsys.readouterr()
    response = app.test_client().get("/broken")
    assert response.status_code == 500 and "secret" not in response.text
    error, access = log_lines(capsys)
    assert error["level"] == "ERROR" and error["message"] == "unhandled error"
    assert "RuntimeError: secret internal detail" in error["traceback"]
    assert error["request_id"] == access["request_id"] == response.headers["X-Request-ID"]
    assert access["status"] == 500 and "traceback" not in access


@pytest.mark.server
def test_gunicorn_writes_only_json_lines_to_stdout(app, database_url, tmp_path):
    secret = make_token(app, "over-http", "write")
    log_path, errors_path = tmp_path / "stdout.log", tmp_path / "stderr.log"
    sent = []
    with gunicorn(database_url, log_path, workers=2, errors_path=errors_path) as base_url:
        for number in range(20):
            headers = {**bearer(secret), "Content-Type": "application/json"}
            if number % 2:
                headers["X-Request-ID"] = f"router-{number:04d}-f0e1d2c3b4a5"
            response = request(base_url, "PUT", "/resources/data/", json.dumps(PETER), headers)
            assert response.status == 201
            echoed = response.headers["X-Request-ID"]
            if "X-Request-ID" in headers:
                assert echoed == headers["X-Request-ID"]  # the router's id is kept
            else:
                assert re.fullmatch(r"[0-9a-f]{32}", echoed)  # a new one is made
            sent.append(echoed)
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    requests = [line for line in lines if line["route"] == "/resources/data/"]
    # Each worker writes its lines in batches, so two workers' lines may come in any order;
    # every line is whole, and none is lost when the server stops.
    assert sorted(line["request_id"] for line in requests) == sorted(sent)
    assert len(set(sent)) == len(sent)  # every generated id is new
    assert {(line["status"], line["token"], line["method"]) for line in requests} == {
        (201, "over-http", "PUT")
    }
    # gunicorn's own messages are on stderr, and its access log is off: no second line.
    assert "Booting worker" in errors_path.read_text()
    assert "/resources/data/" not in errors_path.read_text()


def test_timestamps_are_right_across_second_boundaries():
    from datetime import UTC, datetime

    from api.logs import timestamp

    for seconds in (1_700_000_000.25, 1_700_000_000.75, 1_700_000_001.5, 1_700_000_061.0, 5.0):
        expected = datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%S")
        assert timestamp(seconds) == f"{expected}.{int(seconds % 1 * 1000):03d}Z"


class RecordingStdout:
    """Stands in for sys.stdout and keeps what each flush sent out: one write each."""

    def __init__(self):
        self.buffered = ""
        self.writes = []

    def write(self, text):
        self.buffered += text

    def flush(self):
        if self.buffered:
            self.writes.append(self.buffered)
        self.buffered = ""

    def lines(self):
        return "".join(self.writes).splitlines()


def wait_for_lines(stdout, count, seconds=5):
    return poll(lambda: len(stdout.lines()) >= count and stdout.lines(), seconds, "log lines")


def test_request_lines_wait_then_go_out_together_in_order(monkeypatch):
    stdout = RecordingStdout()
    monkeypatch.setattr("sys.stdout", stdout)
    writer = LineWriter()
    writer.delay = 0.05
    for number in range(3):
        writer.write(f'{{"n": {number}}}')
    assert wait_for_lines(stdout, 3) == ['{"n": 0}', '{"n": 1}', '{"n": 2}']
    assert len(stdout.writes) == 1


def test_an_urgent_line_goes_at_once_after_the_lines_before_it(monkeypatch):
    stdout = RecordingStdout()
    monkeypatch.setattr("sys.stdout", stdout)
    writer = LineWriter()
    writer.delay = 3600
    writer.write("request 1")
    writer.write("request 2")
    assert stdout.writes == []
    writer.write("error", urgent=True)
    assert stdout.lines() == ["request 1", "request 2", "error"]


def test_each_write_is_whole_lines_and_at_most_pipe_buf_bytes(monkeypatch):
    stdout = RecordingStdout()
    monkeypatch.setattr("sys.stdout", stdout)
    writer = LineWriter()
    writer.delay = 3600
    sent = [f"line {number:04d} " + "x" * (number % 300) for number in range(200)]
    for line in sent:
        writer.write(line)
    writer.flush()
    assert stdout.lines() == sent
    assert len(stdout.writes) > 1
    for chunk in stdout.writes:
        assert len(chunk.encode()) <= select.PIPE_BUF and chunk.endswith("\n")


def test_request_threads_leave_full_batches_to_the_writer_until_a_backlog(monkeypatch):
    stdout = RecordingStdout()
    monkeypatch.setattr("sys.stdout", stdout)
    writer = LineWriter()
    writer.delay = 3600
    line = "x" * 99
    for _ in range(BATCH_BYTES // 100 * 4):  # four batches' worth: nothing written yet
        writer.write(line)
    assert stdout.writes == []
    for _ in range(BACKLOG_BYTES // 100):  # a writer thread this far behind: write at once
        writer.write(line)
    assert stdout.writes
    assert all(len(chunk.encode()) <= BATCH_BYTES for chunk in stdout.writes)


def test_error_lines_from_the_app_are_not_held_back(database_url, capsys, make_app):
    app = make_app.broken(database_url, LOG_FLUSH_MS=3_600_000)
    try:
        capsys.readouterr()
        app.test_client().get("/broken")
        [error] = log_lines(capsys)  # the request's own line waits
        assert error["level"] == "ERROR"
        writer.flush()
        [access] = log_lines(capsys)
        assert access["status"] == 500 and access["request_id"] == error["request_id"]
    finally:
        writer.delay = 0


@pytest.mark.server
def test_lines_still_waiting_are_written_when_the_server_stops(app, database_url, tmp_path):
    secret = make_token(app, "patient", "read")
    log_path = tmp_path / "stdout.log"
    environment = {"LOG_FLUSH_MS": "3600000"}
    with gunicorn(database_url, log_path, workers=2, env=environment) as base_url:
        for _ in range(5):
            response = request(base_url, "GET", "/resources/data/1", headers=bearer(secret))
            assert response.status == 404
        assert '"route"' not in log_path.read_text()  # an hour's delay: all still waiting
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if "{" in line[:1]]
    assert [line["status"] for line in lines if line.get("token") == "patient"] == [404] * 5


class BrokenStdout:
    """A stdout whose reader has gone away."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


def test_a_broken_stdout_does_not_fail_requests(app, monkeypatch):
    secret = make_token(app, "unheard", "write")
    monkeypatch.setattr("sys.stdout", BrokenStdout())
    client = app.test_client()
    created = client.put("/resources/data/", json=PETER, headers=bearer(secret))
    assert created.status_code == 201
    fetched = client.get(created.headers["Location"], headers=bearer(secret))
    assert fetched.status_code == 200 and fetched.get_json()["name"] == PETER["name"]
