"""Engine settings for SQLite and Postgres, chosen from the database URL."""

import time
from urllib.parse import quote

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.engine import make_url

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
        # ping_idle_connections() pings only connections that sat idle (see there).
        "pool_pre_ping": app.config["DATABASE_PING_IDLE_SECONDS"] <= 0,
        "pool_size": app.config["DATABASE_POOL_SIZE"],
        "pool_recycle": 300,
        "connect_args": {"connect_timeout": app.config["DATABASE_CONNECT_TIMEOUT"]},
    }


def ping_idle_connections(engine, idle_seconds):
    """Pre-ping a pooled connection before use when it sat idle for `idle_seconds` or more.

    A connection goes bad while it sits unused: a database restart or failover, an idle
    timeout in a firewall or proxy. Pinging those before use replaces them without an
    error, as pool_pre_ping does; pinging a connection that answered a moment ago would
    only add a round trip to every request (about a fifth of a GET's time, measured). If
    one dies while busy, its request gets a 503 and the pool replaces every connection
    that existed at that moment.
    """
    if idle_seconds <= 0:
        return  # pool_pre_ping is on (engine_options)

    @sa.event.listens_for(engine, "checkin")
    def note_idle_since(dbapi_connection, connection_record):
        connection_record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection, connection_record, connection_proxy):
        idle_since = connection_record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out a fresh one.
            raise sa.exc.DisconnectionError(str(error)) from error


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


def readiness_engine(app, uri):
    """The engine /readyz checks: on Postgres the app's own pool (its pre-ping replaces a
    dead connection, and a probe takes no connection slot of its own).

    On SQLite a new connection each time, which never creates the file: a pooled one would
    go on reading a file that was moved or deleted, and a new one would make an empty file.
    """
    url = make_url(uri)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
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
            ping_idle_connections(db.engine, app.config["DATABASE_PING_IDLE_SECONDS"])
    app.extensions["readiness_engine"] = readiness_engine(app, uri)
