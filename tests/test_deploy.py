"""The deploy files, proven by running exactly what Heroku and Elastic Beanstalk run."""

import json
import os
import re
import shutil
import subprocess
import sys

import psycopg
import pytest
import sqlalchemy as sa
import yaml

from tests.contract import drive_contract
from tests.deployment import (
    ROOT,
    VENV_BIN,
    platform_environment,
    procfile_processes,
    run_command,
    wait_for_log,
    web_process,
)
from tests.servers import free_port, request


def schema_of(database_url):
    """Tables, columns, constraints and the migration revision: what a no-op must keep."""
    with psycopg.connect(database_url) as connection:
        columns = connection.execute(
            "SELECT table_name, column_name, data_type, is_nullable"
            " FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2"
        ).fetchall()
        constraints = connection.execute(
            "SELECT conname FROM pg_constraint"
            " WHERE connamespace = 'public'::regnamespace ORDER BY 1"
        ).fetchall()
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    return columns, constraints, revision


PLAIN = {"X-Forwarded-Proto": "http"}


def first_token(one_off):
    """The README's first-token step, as a one-off command; the token is the last line."""
    created = one_off("flask --app api tokens create ops --role write")
    assert created.returncode == 0, created.stderr
    return created.stdout.splitlines()[-1]


def assert_serves_the_contract(web_command, env, log_folder, release, database_url, token):
    """Serve, drive the curl contract, rerun the release step: a no-op that keeps the data."""
    with web_process(web_command, env, log_folder) as (base_url, _):
        stderr = wait_for_log(log_folder / "stderr.log", "Booting worker", count=2)
        assert stderr.count("Booting worker") == 2
        schema = schema_of(database_url)

        # What the platform's proxy (Heroku's router, the load balancer) tells of a request
        # that came over HTTPS; production refuses one that came over plain HTTP.
        https = {"X-Forwarded-Proto": "https"}
        headers = {"Authorization": f"Bearer {token}", **https}
        assert request(base_url, "GET", "/resources/data/1", headers=https).status == 401
        plain = request(base_url, "GET", "/resources/data/1", headers={**headers, **PLAIN})
        assert plain.status == 403 and "https" in plain.json()["detail"]
        assert request(base_url, "GET", "/readyz", headers=PLAIN).status == 200
        kept = drive_contract(base_url, headers)

        again = release()
        assert again.returncode == 0, again.stderr
        assert "Running upgrade" not in again.stderr
        assert schema_of(database_url) == schema
        assert (
            request(base_url, "GET", f"/resources/data/{kept['id']}", headers=headers).json()
            == kept
        )
    # The request log: one JSON object a line on stdout, which both platforms collect.
    lines = [json.loads(line) for line in (log_folder / "stdout.log").read_text().splitlines()]
    assert any(line["method"] == "PUT" and line["status"] == 201 for line in lines)


@pytest.mark.server
def test_heroku_release_then_web(make_postgres_database, tmp_path):
    processes = procfile_processes(ROOT / "Procfile")
    app_json = json.loads((ROOT / "app.json").read_text())
    database_url = make_postgres_database()
    env = platform_environment(
        tmp_path,
        PORT=str(free_port()),
        # Heroku Postgres hands out the old postgres:// scheme.
        DATABASE_URL=database_url.replace("postgresql://", "postgres://", 1),
        WEB_CONCURRENCY="2",
        APP_ENV=app_json["env"]["APP_ENV"]["value"],
    )

    def release():
        return run_command(processes["release"], {**env, "DYNO": "release.1"})

    first = release()
    assert first.returncode == 0, first.stderr
    assert "Running upgrade" in first.stderr
    # `heroku run flask --app api tokens create ...` runs in a one-off dyno.
    token = first_token(lambda command: run_command(command, {**env, "DYNO": "run.1"}))
    assert_serves_the_contract(
        processes["web"], {**env, "DYNO": "web.1"}, tmp_path, release, database_url, token
    )


def test_app_json_provisions_postgres_and_production_mode():
    app_json = json.loads((ROOT / "app.json").read_text())
    plans = [addon["plan"] if isinstance(addon, dict) else addon for addon in app_json["addons"]]
    assert any(plan.split(":")[0] == "heroku-postgresql" for plan in plans)
    assert app_json["env"]["APP_ENV"]["value"] == "production"


def test_python_version_is_the_one_the_suite_runs_on():
    version = (ROOT / ".python-version").read_text().strip()
    assert version == f"{sys.version_info.major}.{sys.version_info.minor}"


def test_every_requirement_is_pinned():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    requirements = [line for line in lines if line.strip() and not line.startswith("#")]
    assert requirements and all(re.fullmatch(r"[\w.\-\[\]]+==[\w.]+", r) for r in requirements)


def test_procfile_runs_gunicorn_and_migrations():
    processes = procfile_processes(ROOT / "Procfile")
    assert processes == {
        "web": "gunicorn --config gunicorn.conf.py",
        "release": "flask --app api db upgrade",
    }


EB_CONFIG_KEYS = {
    "option_settings",
    "packages",
    "groups",
    "users",
    "sources",
    "files",
    "commands",
    "services",
    "container_commands",
    "Resources",
}
EB_CONTAINER_COMMAND_KEYS = {"command", "env", "cwd", "leader_only", "test", "ignoreErrors"}
# The options this repository sets, per namespace; application:environment takes any name.
EB_OPTIONS = {
    "aws:elasticbeanstalk:application:environment": None,
    "aws:elasticbeanstalk:environment:process:default": {
        "HealthCheckPath",
        "HealthCheckInterval",
        "HealthCheckTimeout",
        "HealthyThresholdCount",
        "UnhealthyThresholdCount",
        "MatcherHTTPCode",
        "Port",
        "Protocol",
    },
    "aws:elasticbeanstalk:container:python": {"WSGIPath", "NumProcesses", "NumThreads"},
}
EB_VENV_ROOT = "/var/app/venv"
HOOKS = ROOT / ".platform" / "hooks"


def eb_configs():
    files = sorted((ROOT / ".ebextensions").glob("*.config"))
    assert files, "no .ebextensions/*.config"
    return [yaml.safe_load(path.read_text()) for path in files]


def eb_option_settings():
    settings = {}
    for config in eb_configs():
        for namespace, options in config.get("option_settings", {}).items():
            settings.setdefault(namespace, {}).update(options)
    return settings


def eb_container_commands():
    commands = {}
    for config in eb_configs():
        commands.update(config.get("container_commands", {}))
    return commands


def test_ebextensions_hold_only_keys_the_platform_knows():
    for config in eb_configs():
        assert isinstance(config, dict) and set(config) <= EB_CONFIG_KEYS
        for entry in config.get("container_commands", {}).values():
            assert set(entry) <= EB_CONTAINER_COMMAND_KEYS and "command" in entry
    for namespace, options in eb_option_settings().items():
        assert namespace in EB_OPTIONS, f"unknown namespace {namespace}"
        known = EB_OPTIONS[namespace]
        assert known is None or set(options) <= known, f"unknown option in {namespace}"


def test_ebextensions_set_production_readiness_check_and_one_migration():
    settings = eb_option_settings()
    assert settings["aws:elasticbeanstalk:application:environment"]["APP_ENV"] == "production"
    health = settings["aws:elasticbeanstalk:environment:process:default"]
    assert health["HealthCheckPath"] == "/readyz"
    migrations = [
        entry for entry in eb_container_commands().values() if "db upgrade" in entry["command"]
    ]
    assert len(migrations) == 1 and migrations[0]["leader_only"] is True


@pytest.mark.server
def test_platform_hooks_are_committed_executable():
    listing = subprocess.run(
        ["git", "ls-files", "-s", "--", ".platform/hooks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert listing, "no hook is committed"
    for line in listing:
        mode, *_, path = line.split()
        assert mode == "100755", f"{path} is not executable in git"
        assert (ROOT / path).read_text().startswith("#!")


def test_ebignore_keeps_local_state_out_of_the_bundle():
    ignored = set((ROOT / ".ebignore").read_text().splitlines())
    assert {".venv/", "instance/", "*.db", "__pycache__/", ".git/"} <= ignored
    assert not any(line.startswith((".ebextensions", ".platform", "Procfile")) for line in ignored)


def staged_bundle(tmp_path):
    """Procfile and hooks copied as Elastic Beanstalk stages them, after the prebuild hooks."""
    bundle = tmp_path / "staging"
    shutil.copytree(HOOKS, bundle / ".platform" / "hooks")
    shutil.copy(ROOT / "Procfile", bundle / "Procfile")
    for hook in sorted((bundle / ".platform" / "hooks" / "prebuild").iterdir()):
        subprocess.run([hook], cwd=tmp_path, check=True, timeout=30)
    return bundle


@pytest.mark.server
def test_elastic_beanstalk_container_command_then_web(make_postgres_database, tmp_path):
    heroku_processes = procfile_processes(ROOT / "Procfile")
    bundle = staged_bundle(tmp_path)
    processes = procfile_processes(bundle / "Procfile")
    assert processes == {"web": heroku_processes["web"]}

    # The platform's virtualenv lives at /var/app/venv/<name>; ours stands in for it.
    (tmp_path / "venv" / "staging-test").mkdir(parents=True)
    (tmp_path / "venv" / "staging-test" / "bin").symlink_to(VENV_BIN)
    (migrate_command,) = [
        entry["command"]
        for entry in eb_container_commands().values()
        if "db upgrade" in entry["command"]
    ]
    assert f"{EB_VENV_ROOT}/*/bin/activate" in migrate_command
    migrate_command = migrate_command.replace(EB_VENV_ROOT, str(tmp_path / "venv"))

    url = sa.make_url(make_postgres_database())
    properties = eb_option_settings()["aws:elasticbeanstalk:application:environment"]
    rds = {
        "RDS_HOSTNAME": url.host,
        "RDS_PORT": str(url.port),
        "RDS_DB_NAME": url.database,
        "RDS_USERNAME": url.username,
        "RDS_PASSWORD": "",
    }
    # Container commands run outside the virtualenv: only the activate can find flask.
    outside = platform_environment(tmp_path, path=os.defpath, **properties, **rds)

    def container_command():
        return run_command(migrate_command, outside)

    first = container_command()
    assert first.returncode == 0, first.stderr
    assert "Running upgrade" in first.stderr
    # The web process gets the virtualenv on PATH; PORT is set only because 8000 may be taken.
    web_env = platform_environment(tmp_path, PORT=str(free_port()), **properties, **rds)
    database_url = url.render_as_string(hide_password=False)
    # On the instance (eb ssh): the platform's virtualenv and environment, as the README says.
    activate = migrate_command.split("&&")[0].strip()
    token = first_token(lambda command: run_command(f"{activate} && {command}", outside))
    assert_serves_the_contract(
        processes["web"], web_env, tmp_path, container_command, database_url, token
    )
