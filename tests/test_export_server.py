"""A streamed export of many people through a real gunicorn: the worker's memory stays flat."""

import http.client
import json
from pathlib import Path

import pytest

from tests.conftest import bearer, make_token
from tests.servers import gunicorn_server

pytestmark = pytest.mark.server

PEOPLE = 200_000
WARM_UP_LOCALE = "W"  # 1 in 50 people: enough for both chunk sizes


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def stream(base_url, token, path, on_chunk):
    """GET path as NDJSON, reading 64 KiB at a time; the body's line count."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {**bearer(token), "Accept": "application/x-ndjson"}
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        assert response.status == 200
        lines, last = 0, b""
        while chunk := response.read(64 * 1024):
            lines += chunk.count(b"\n")
            last = (last + chunk)[-1000:]
            on_chunk()
        return lines, json.loads(last.splitlines()[-1])
    finally:
        connection.close()


def test_streaming_200k_people_keeps_the_worker_memory_flat(app, database_url, tmp_path):
    path = tmp_path / "people.csv"
    with path.open("w") as file:
        file.write("name,age,locale\n")
        for i in range(PEOPLE):
            locale = WARM_UP_LOCALE if i % 50 == 0 else "L"
            file.write(f"Person number {i} with a longish name,{i % 151},{locale}\n")
    result = app.test_cli_runner().invoke(args=["people", "import", str(path)])
    assert result.exit_code == 0, result.stderr
    token = make_token(app, "reader", "read")

    with gunicorn_server(database_url, tmp_path / "log", workers=1) as server:
        (worker,) = server.worker_pids()
        lines, _ = stream(
            server.base_url, token, f"/resources/data?locale={WARM_UP_LOCALE}", lambda: None
        )
        assert lines == PEOPLE // 50
        before = rss_kib(worker)
        samples = []
        lines, last = stream(
            server.base_url, token, "/resources/data", lambda: samples.append(rss_kib(worker))
        )
        after = rss_kib(worker)
    assert lines == PEOPLE
    assert last["name"] == f"Person number {PEOPLE - 1} with a longish name"
    growth = max(samples) - before
    print(
        f"worker RSS {before} KiB before, at most {max(samples)} KiB while streaming "
        f"{PEOPLE} people ({len(samples)} samples), {after} KiB after"
    )
    assert growth < 10 * 1024
