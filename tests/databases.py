"""Helpers for the database-limit tests: a locked people table, counting connections."""

import contextlib
import sqlite3
import threading

import psycopg
import sqlalchemy as sa

LOCK_HOLDER = "people-api-tests-lock-holder"


@contextlib.contextmanager
def people_table_locked(database_url, release_after=30):
    """Hold the strongest lock another client can take on `people` until the block ends.

    Postgres: ACCESS EXCLUSIVE, which makes every read and write of the table wait.
    SQLite: the write lock (BEGIN IMMEDIATE); in WAL mode readers still go on.
    The lock goes after `release_after` seconds anyway, so that a request the app failed
    to bound makes the test fail on its timing instead of hanging.
    """
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(url.database, isolation_level=None, check_same_thread=False)
        connection.execute("BEGIN IMMEDIATE")
    else:
        plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
        connection = psycopg.connect(plain, application_name=LOCK_HOLDER)
        connection.execute("LOCK TABLE people IN ACCESS EXCLUSIVE MODE")
    releaser = threading.Timer(release_after, connection.rollback)
    releaser.start()
    try:
        yield
    finally:
        releaser.cancel()
        releaser.join()
        connection.rollback()
        connection.close()


def app_connections(admin, database_url):
    """How many server connections the app holds on this database (the lock holder aside)."""
    return admin.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid() AND application_name <> %s",
        (sa.make_url(database_url).database, LOCK_HOLDER),
    ).fetchone()[0]


def sessions_opened(admin, database_url):
    """Connections ever opened on this database (pg_stat_database counts them)."""
    return admin.execute(
        "SELECT sessions FROM pg_stat_database WHERE datname = %s",
        (sa.make_url(database_url).database,),
    ).fetchone()[0]
