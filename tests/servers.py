"""Real server processes for the tests that are about the server itself."""

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.helpers import terminate, wait_for_server

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


def request(base_url, method, path, body=None, headers=None, timeout=10):
    """One HTTP request with no redirect following, as curl does by default."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Response(response.status, response.headers, response.read())
    finally:
        connection.close()


def wait_for_http(base_url, process, deadline_seconds=30):
    """Poll the liveness probe until the server answers; fail early if the process died."""
    wait_for_server(
        process,
        lambda: request(base_url, "GET", "/healthz", timeout=1),
        deadline_seconds,
        f"the server at {base_url}",
    )


class Server:
    """A running gunicorn: its URL and its master process."""

    def __init__(self, base_url, process):
        self.base_url = base_url
        self.process = process

    def worker_pids(self):
        pid = self.process.pid
        return [
            int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ]


@contextlib.contextmanager
def gunicorn(database_url, log_path, workers=2, env=None, errors_path=None, extra_binds=()):
    """gunicorn with the checked-in config, on a free loopback port; yields its URL.

    stdout (the app's JSON log) goes to log_path; stderr (gunicorn's own messages) too,
    unless errors_path is given. `extra_binds`: more addresses to listen on ("[::1]:8001").
    """
    with gunicorn_server(database_url, log_path, workers, env, errors_path, extra_binds) as server:
        yield server.base_url


@contextlib.contextmanager
def gunicorn_server(
    database_url, log_path, workers=2, env=None, errors_path=None, extra_binds=()
):
    """Like `gunicorn`, but yields a Server, for tests that signal its processes."""
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "WEB_CONCURRENCY": str(workers),
        "INSTANCE_PATH": str(Path(log_path).parent / "instance"),
        **(env or {}),
    }
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
    command += ["--bind", f"127.0.0.1:{port}"]
    for address in extra_binds:
        command += ["--bind", address]
    command.append("api:create_app()")
    with open(log_path, "wb") as log, open(errors_path or os.devnull, "wb") as errors:
        stderr = errors if errors_path else subprocess.STDOUT
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=stderr)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base_url, process)
        yield Server(base_url, process)
    finally:
        terminate(process)
