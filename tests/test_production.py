"""Production mode: unsafe settings stop the app at start-up with the reason on stderr."""

import pytest

from api import create_app
from api.settings_check import UnsafeSettingsError
from config import app_environment
from tests.conftest import POSTGRES_URL as POSTGRES
from tests.conftest import dispose
from tests.deployment import ROOT, platform_environment, procfile_processes, run_command
from tests.servers import free_port


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "development"),
        ({"APP_ENV": " Production "}, "production"),
        ({"DYNO": "web.1"}, "production"),
        ({"DYNO": "web.1", "APP_ENV": "development"}, "development"),
    ],
)
def test_app_environment_defaults_to_production_on_a_heroku_dyno(environ, expected):
    assert app_environment(environ) == expected


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"DATABASE_URL": "sqlite:////srv/people.db"}, "DATABASE_URL points at SQLite"),
        (
            {
                "DATABASE_URL": "sqlite:////srv/people.db",
                "SQLITE_PERSISTENT_DISK": True,
                "ON_HEROKU": True,
            },
            "DATABASE_URL points at SQLite",
        ),
        ({"DATABASE_URL": None}, "no database is configured"),
        ({"DATABASE_URL": POSTGRES, "DEBUG": True}, "FLASK_DEBUG is on"),
    ],
)
def test_production_refuses_unsafe_settings(overrides, reason):
    with pytest.raises(UnsafeSettingsError, match=reason):
        create_app({"APP_ENV": "production", **overrides})


def test_sqlite_on_a_persistent_disk_is_allowed_when_said_so(tmp_path):
    app = create_app(
        {
            "APP_ENV": "production",
            "DATABASE_URL": f"sqlite:///{tmp_path}/people.db",
            "SQLITE_PERSISTENT_DISK": True,
            "INSTANCE_PATH": str(tmp_path),
        }
    )
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("people.db")
    dispose(app)


def test_unknown_app_env_is_refused_rather_than_guessed():
    with pytest.raises(UnsafeSettingsError, match="APP_ENV must be one of"):
        create_app({"APP_ENV": "prod", "DATABASE_URL": POSTGRES})


def test_production_with_postgres_starts_without_debug():
    app = create_app({"APP_ENV": "production", "DATABASE_URL": POSTGRES})
    assert app.debug is False
    dispose(app)


def assert_refused_cleanly(result, reason):
    assert result.returncode != 0
    assert f"Error: refusing to start (APP_ENV=production): {reason}" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.server
def test_web_and_release_refuse_sqlite_in_production(tmp_path):
    """The Procfile's own commands, as a platform would run them with a SQLite URL."""
    processes = procfile_processes(ROOT / "Procfile")
    database = tmp_path / "people.db"
    env = platform_environment(
        tmp_path, APP_ENV="production", DATABASE_URL=f"sqlite:///{database}", PORT=str(free_port())
    )

    web = run_command(processes["web"], env, timeout=30)
    assert_refused_cleanly(web, "DATABASE_URL points at SQLite")
    assert "Booting worker" not in web.stderr

    release = run_command(processes["release"], env, timeout=30)
    assert_refused_cleanly(release, "DATABASE_URL points at SQLite")
    assert not database.exists()


@pytest.mark.server
def test_plain_heroku_push_without_database_is_refused(tmp_path):
    """No app.json settings, no add-on: the release dyno alone makes it production."""
    release_command = procfile_processes(ROOT / "Procfile")["release"]
    result = run_command(release_command, platform_environment(tmp_path, DYNO="release.1"))
    assert_refused_cleanly(result, "no database is configured")
