"""The deploy files, proven by running exactly what Heroku and Elastic Beanstalk run."""

import json
import re
import sys

import psycopg

from tests.contract import drive_contract
from tests.deployment import (
    ROOT,
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


def assert_serves_the_contract(web_command, env, log_folder, release, database_url):
    """Serve, drive the curl contract, rerun the release step: a no-op that keeps the data."""
    with web_process(web_command, env, log_folder) as (base_url, _):
        stderr = wait_for_log(log_folder / "stderr.log", "Booting worker", count=2)
        assert stderr.count("Booting worker") == 2
        schema = schema_of(database_url)

        kept = drive_contract(base_url, {})

        again = release()
        assert again.returncode == 0, again.stderr
        assert "Running upgrade" not in again.stderr
        assert schema_of(database_url) == schema
        assert request(base_url, "GET", f"/resources/data/{kept['id']}").json() == kept
    access_log = (log_folder / "stdout.log").read_text()
    assert re.search(r'"PUT /resources/data/? HTTP/1\.1" 201', access_log)


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
    assert_serves_the_contract(
        processes["web"], {**env, "DYNO": "web.1"}, tmp_path, release, database_url
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
