"""JSON logs: a line for every request, with the request id the response shows."""

import json
import re

import pytest

from tests.conftest import bearer, build_broken_app, dispose, make_token
from tests.servers import gunicorn, request
from tests.test_people import PETER

PERSON_ROUTE = "/resources/data/<int(max=2147483647):person_id>"


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


@pytest.mark.parametrize(
    "incoming", ["f0e1d2c3-b4a5-4697-8879-6a5b4c3d2e1f", "req:7/abc+=_.@-1", "x" * 200]
)
def test_an_incoming_request_id_is_kept(app, capsys, incoming):
    response = app.test_client().get("/healthz", headers={"X-Request-ID": incoming})
    assert response.headers["X-Request-ID"] == incoming
    assert log_lines(capsys)[-1]["request_id"] == incoming


@pytest.mark.parametrize(
    "incoming", ["", "x" * 201, "has space", 'quote"', "semi;colon", "new\\nline", "é"]
)
def test_an_unsafe_request_id_is_replaced(app, capsys, incoming):
    response = app.test_client().get("/healthz", headers={"X-Request-ID": incoming})
    generated = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert log_lines(capsys)[-1]["request_id"] == generated


def test_an_error_has_its_traceback_in_the_log_only(database_url, capsys):
    app = build_broken_app(database_url)
    capsys.readouterr()
    response = app.test_client().get("/broken")
    assert response.status_code == 500 and "secret" not in response.text
    error, access = log_lines(capsys)
    assert error["level"] == "ERROR" and error["message"] == "unhandled error"
    assert "RuntimeError: secret internal detail" in error["traceback"]
    assert error["request_id"] == access["request_id"] == response.headers["X-Request-ID"]
    assert access["status"] == 500 and "traceback" not in access
    dispose(app)


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
            assert response.headers["X-Request-ID"] == headers.get(
                "X-Request-ID", response.headers["X-Request-ID"]
            )
            sent.append(response.headers["X-Request-ID"])
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    requests = [line for line in lines if line["route"] == "/resources/data/"]
    assert [line["request_id"] for line in requests] == sent
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
