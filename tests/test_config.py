"""Settings from the environment: database URLs for local, Heroku and Elastic Beanstalk."""

import os

import pytest

from config import database_url_from, normalise_database_url

RDS = {
    "RDS_HOSTNAME": "db.example.internal",
    "RDS_PORT": "5433",
    "RDS_DB_NAME": "ebdb",
    "RDS_USERNAME": "people",
    "RDS_PASSWORD": "p@ss/word:1",
}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgresql://u:p@h/d?sslmode=require", "postgresql+psycopg://u:p@h/d?sslmode=require"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:////var/data/people.db", "sqlite:////var/data/people.db"),
    ],
)
def test_postgres_urls_use_psycopg_3(url, expected):
    assert normalise_database_url(url) == expected


def test_database_url_wins_over_rds():
    assert database_url_from({"DATABASE_URL": "postgres://a@b/c", **RDS}) == "postgres://a@b/c"


def test_rds_variables_build_a_url_with_escaped_credentials():
    url = database_url_from(RDS)
    assert url == "postgresql://people:p%40ss%2Fword%3A1@db.example.internal:5433/ebdb"


def test_no_database_settings_means_none():
    assert database_url_from({}) is None


def test_default_database_is_sqlite_in_the_instance_folder(monkeypatch, make_app):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = make_app(None)
    expected = f"sqlite:///{os.path.join(app.instance_path, 'people.db')}"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == expected
    assert os.path.isdir(app.instance_path)


def test_heroku_style_url_reaches_the_psycopg_driver(make_app):
    app = make_app("postgres://postgres@127.0.0.1:5432/test")
    with app.app_context():
        from api.extensions import db

        assert db.engine.dialect.driver == "psycopg"


def test_invalid_sqlite_synchronous_mode_is_refused_at_start(tmp_path, make_app):
    with pytest.raises(ValueError, match="SQLITE_SYNCHRONOUS"):
        make_app(f"sqlite:///{tmp_path}/p.db", SQLITE_SYNCHRONOUS="SOMETIMES; DROP")
