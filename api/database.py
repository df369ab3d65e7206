"""Engine settings for SQLite and Postgres, chosen from the database URL."""

from urllib.parse import quote

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.engine import make_url

from api.driver import PooledConnections, ThreadConnections
from api.extensions import db
from config import normalise_database_url


def database_uri(app):
    """The configured URL, or a SQLite file in the instance folder by default."""
    url = app.config.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{app.instance_path}/people.db"
    return normalise_database_url(url)


def engine_options(app, uri):
    """Pool and driver settings suited to a multi-process server."""
    if make_url(uri).get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": app.config["SQLITE_BUSY_TIMEOUT"]}}
    return {
        # With no idle threshold, SQLAlchemy's own ping on every checkout; otherwise
        # api/pool.py pings only connections that sat idle.
        "pool_pre_ping": app.config["DATABASE_PING_IDLE_SECONDS"] <= 0,
        # A real cap: with an overflow (SQLAlchemy's default: 10 more) a few instances
        # under load take every connection a small database has.
        "pool_size": app.config["DATABASE_POOL_SIZE"],
        "max_overflow": 0,
        "pool_timeout": app.config["DATABASE_POOL_TIMEOUT"],
        # Last in, first out: a light load keeps reusing the same few connections, and
        # the others stay idle long enough to be closed (api/pool.py).
        "pool_use_lifo": True,
        "pool_recycle": 300,
        "connect_args": postgres_connect_args(app.config),
    }


POOLER_MODES = ("", "transaction")


def postgres_connect_args(config):
    """psycopg's connection arguments: timeouts, and what a transaction pooler allows."""
    pooler = config["DATABASE_POOLER"]
    if pooler not in POOLER_MODES:
        raise ValueError(f"DATABASE_POOLER must be unset or 'transaction', not {pooler!r}")
    arguments = {"connect_timeout": config["DATABASE_CONNECT_TIMEOUT"]}
    if pooler == "transaction":
        # A transaction pooler hands each transaction to any server connection: a statement
        # that psycopg prepared on one (after 5 runs) is missing or means another query on
        # the next. PgBouncer also refuses the `options` startup parameter, so the timeouts
        # are the role's (README: ALTER ROLE ... SET statement_timeout).
        arguments["prepare_threshold"] = None
        return arguments
    milliseconds = config["DATABASE_STATEMENT_TIMEOUT"] * 1000
    if milliseconds > 0:
        # Sent when connecting, so it costs requests nothing, and it bounds every statement,
        # the GET's raw-driver SELECT and create's autocommit INSERT included.
        timeouts = f"statement_timeout={milliseconds} -c lock_timeout={milliseconds}"
        arguments["options"] = f"-c {timeouts}"
    return arguments


SQLITE_SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")


def configure_sqlite(engine, synchronous):
    """Set the pragmas on every new SQLite connection."""
    if synchronous not in SQLITE_SYNCHRONOUS_MODES:
        raise ValueError(
            f"SQLITE_SYNCHRONOUS must be one of {', '.join(SQLITE_SYNCHRONOUS_MODES)}, "
            f"not {synchronous!r}"
        )

    @sa.event.listens_for(engine, "connect")
    def set_pragmas(dbapi_connection, connection_record):
        cursor = dbapi_connection.cursor()
        # WAL lets readers go on while one writer writes; the busy timeout
        # (connect_args) makes other writers wait instead of failing.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def is_sqlite_file(url):
    """A SQLite database in a file, not in memory (which lives only in its one connection)."""
    return url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")


def driver_connections(engine):
    """Where the hot paths' statements get a connection (api/driver.py): on a SQLite file,
    each thread's own; elsewhere (Postgres, an in-memory SQLite) the pool."""
    if is_sqlite_file(engine.url):
        return ThreadConnections(engine)
    return PooledConnections(engine)


def readiness_engine(app, uri):
    """The engine /readyz checks: on Postgres the app's own pool (its pre-ping replaces a
    dead connection, and a probe takes no connection slot of its own).

    On SQLite a new connection each time, which never creates the file: a pooled one would
    go on reading a file that was moved or deleted, and a new one would make an empty file.
    """
    url = make_url(uri)
    if not is_sqlite_file(url):
        return None
    url = url.set(database=f"file:{quote(url.database)}", query={"mode": "rw", "uri": "true"})
    timeout = app.config["READINESS_TIMEOUT"]
    return sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"timeout": timeout})


def close_request_session(exception=None):
    """End the request's session before Flask-SQLAlchemy's own teardown does.

    Closing rolls back the request's read transaction. If the connection died after the
    response was made (a database restart, pg_terminate_backend), that ROLLBACK fails;
    the response is already right, so drop the connection rather than turn it into a 500.
    """
    if not db.session.registry.has():
        return  # this request never used the session
    try:
        db.session.close()
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
        current_app.logger.warning("dropped a broken database connection: %s", error.orig)
        db.session().invalidate()  # discard the connection, no ROLLBACK


def init_database(app):
    """Bind Flask-SQLAlchemy with the engine settings for the configured database."""
    uri = database_uri(app)
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app, uri)
    db.init_app(app)
    # Teardowns run last-registered first, so this one comes before Flask-SQLAlchemy's.
    app.teardown_appcontext(close_request_session)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine, app.config["SQLITE_SYNCHRONOUS"])
        else:
            from api.pool import IdleConnections

            IdleConnections(
                db.engine,
                ping_after=app.config["DATABASE_PING_IDLE_SECONDS"],
                close_after=app.config["DATABASE_CLOSE_IDLE_SECONDS"],
            )
        app.extensions["driver_connections"] = driver_connections(db.engine)
    app.extensions["readiness_engine"] = readiness_engine(app, uri)
