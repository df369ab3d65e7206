"""`flask --app api tokens ...`: create, list, revoke, local."""

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from api.extensions import db
from tests.conftest import bearer
from tests.servers import ROOT

pytestmark = pytest.mark.server  # every test here starts a real process

TOKEN_LINE = re.compile(r"pplapi_[A-Za-z0-9_-]{43}")


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=["tokens", *args])


def test_create_prints_the_token_alone_on_the_last_line(app, cli):
    result = cli("create", "scraper", "--role", "metrics")
    assert result.exit_code == 0, result.output
    last_line = result.output.splitlines()[-1]
    assert TOKEN_LINE.fullmatch(last_line)
    assert "scraper" in result.output and "metrics" in result.output
    with app.app_context():
        assert db.session.execute(sa.text("SELECT name, role FROM tokens")).all() == [
            ("scraper", "metrics")
        ]


def test_created_token_authenticates(app, cli):
    secret = cli("create", "ops", "--role", "write").output.splitlines()[-1]
    response = app.test_client().put(
        "/resources/data/", json={"name": "a", "age": 1, "locale": "b"}, headers=bearer(secret)
    )
    assert response.status_code == 201


def test_list_shows_names_roles_and_dates_never_secrets(app, cli):
    secret = cli("create", "reader", "--role", "read", "--expires-in", "30").output.split()[-1]
    cli("create", "writer", "--role", "write")
    app.test_client().get("/resources/data/1", headers=bearer(secret))
    result = cli("list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["NAME", "ROLE", "CREATED", "LAST", "USED", "EXPIRES"]
    reader, writer = lines[1].split(), lines[2].split()
    assert reader[:2] == ["reader", "read"] and writer[:2] == ["writer", "write"]
    expires = datetime.fromisoformat(reader[4])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)
    assert reader[3] != "never"  # used once
    assert writer[3:] == ["never", "never"]
    assert "pplapi_" not in result.output


def test_list_without_tokens(cli):
    assert cli("list").output.strip() == "No tokens."


def test_duplicate_name_is_an_error(cli):
    assert cli("create", "ops", "--role", "read").exit_code == 0
    result = cli("create", "ops", "--role", "write")
    assert result.exit_code != 0
    assert "exists already" in result.output
    assert "pplapi_" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["create", "ops", "--role", "admin"],
        ["create", "ops"],
        ["create", "ops", "--role", "read", "--expires-in", "0"],
        ["create", "bad name", "--role", "read"],
        ["create", "-x", "--role", "read"],
        ["revoke", "nobody"],
    ],
)
def test_bad_commands_fail_clearly(cli, args):
    result = cli(*args)
    assert result.exit_code != 0
    assert "Error" in result.output
    assert cli("list").output.strip() == "No tokens."


def test_revoke_removes_the_token(cli):
    cli("create", "ops", "--role", "write")
    cli("create", "keep", "--role", "read")
    result = cli("revoke", "ops")
    assert result.exit_code == 0 and "Revoked token 'ops'" in result.output
    names = [line.split()[0] for line in cli("list").output.splitlines()[1:]]
    assert names == ["keep"]
    assert cli("revoke", "ops").exit_code != 0


def test_local_token_is_made_once_and_shown_again(app, cli):
    first = cli("local")
    assert first.exit_code == 0
    secret = first.output.splitlines()[-1]
    assert TOKEN_LINE.fullmatch(secret)
    assert cli("local").output.splitlines()[-1] == secret
    path = os.path.join(app.instance_path, "local-token")
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert app.test_client().get("/resources/data/1", headers=bearer(secret)).status_code == 404
    cli("revoke", "local")
    renewed = cli("local").output.splitlines()[-1]
    assert renewed != secret and TOKEN_LINE.fullmatch(renewed)


def test_local_token_is_refused_in_production(make_database, make_app):
    app = make_app(make_database("postgres"), APP_ENV="production")
    result = app.test_cli_runner().invoke(args=["tokens", "local"])
    assert result.exit_code != 0 and "development" in result.output


def test_the_exact_command_line_works(database_url, tmp_path):
    """The documented interface, as a real process: token on the last line of stdout."""
    environment = {**os.environ, "DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path)}
    command = [sys.executable, "-m", "flask", "--app", "api", "tokens"]
    created = subprocess.run(
        [*command, "create", "script", "--role", "read", "--expires-in", "7"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert TOKEN_LINE.fullmatch(created.stdout.splitlines()[-1])
    listed = subprocess.run(
        [*command, "list"], cwd=ROOT, env=environment, capture_output=True, text=True, check=True
    )
    assert listed.stdout.splitlines()[1].split()[:2] == ["script", "read"]
    duplicate = subprocess.run(
        [*command, "create", "script", "--role", "read"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert duplicate.returncode != 0 and "exists already" in duplicate.stderr
