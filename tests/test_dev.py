"""The README's first command: set up, migrate, make a token, serve on port 5000."""

import os
import signal
import socket
import subprocess
import sys

import pytest

from tests.servers import ROOT, request, wait_for_http

pytestmark = pytest.mark.server  # every test here starts a real process

PERSON = '{"name": "peter", "locale": "NYC", "age": 42}'


def port_is_free(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_run_command_serves_on_port_5000_with_a_local_token(tmp_path):
    if not port_is_free(5000):
        pytest.fail("something else listens on 127.0.0.1:5000; stop it to run this test")
    environment = {**os.environ, "INSTANCE_PATH": str(tmp_path)}
    for name in ("PORT", "DATABASE_URL", "APP_ENV"):
        environment.pop(name, None)
    with open(tmp_path / "run.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "dev.py", "run"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_http("http://127.0.0.1:5000", process, deadline_seconds=120)
        token = (tmp_path / "local-token").read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        form = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
        created = request(
            "http://127.0.0.1:5000", "PUT", "/resources/data/", f"data={PERSON}", form
        )
        assert created.status == 201
        location = created.headers["Location"]
        assert request("http://127.0.0.1:5000", "GET", location, headers=headers).status == 200
        assert (tmp_path / "people.db").exists()  # the zero-configuration SQLite default
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    output = (tmp_path / "run.log").read_text()
    assert token in output  # the newcomer sees the token on the screen


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_the_documented_upgrade_command_migrates(kind, make_database, tmp_path):
    url = make_database(kind)
    environment = {**os.environ, "DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path)}
    command = [os.path.join(os.path.dirname(sys.executable), "flask"), "--app", "api", "db"]
    for _ in range(2):  # the second run has nothing to do
        subprocess.run([*command, "upgrade"], cwd=ROOT, env=environment, check=True)
    current = subprocess.run(
        [*command, "current"], cwd=ROOT, env=environment, check=True, capture_output=True, text=True
    )
    assert "(head)" in current.stdout
