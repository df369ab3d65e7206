"""Driver connections for the hot paths' statements (api/queries.py, driver_rows).

The hot paths (GET's SELECT, create's INSERT, a listing's page) run one statement each on a
bare driver connection, skipping SQLAlchemy's execution layer. Where that connection comes
from depends on the database:

- Postgres: from the engine's pool, for each statement, so that the pool's cap, its pings
  and its closing of idle connections (api/pool.py) hold for these too. The statement runs
  in autocommit, which spares the BEGIN and COMMIT (or ROLLBACK) round trips, and an INSERT
  is durable when it returns; autocommit is switched back, so whoever uses the connection
  next gets transactions.
- SQLite: each thread keeps one connection of its own. Taking one from the pool and giving
  it back (a queue, a wrapper object, a ROLLBACK) took a sixth of a GET's time with the
  app's own code on SQLite (py-spy, in-process), and a SQLite connection is only an open
  file: nothing is capped or idle on a server. It is made by the engine, with the engine's
  pragmas (api/database.py), and detached from the pool, so that the pool's connections
  (the ORM's) are not touched. A connection that failed, or whose statement was
  interrupted, is closed, never reused; the engine's dispose() closes them all. (An
  in-memory database is the pool's one connection, so it is taken from the pool.)
"""

import threading
import weakref

import sqlalchemy as sa


class PooledConnections:
    """A pooled connection for each statement; on Postgres, in autocommit."""

    def __init__(self, engine):
        self.engine = engine
        self.autocommit = engine.dialect.name == "postgresql"

    def take(self):
        connection = self.engine.raw_connection()
        if self.autocommit:
            try:
                # It may refuse (a connection that broke while idle in the pool): never
                # leave one checked out.
                connection.driver_connection.autocommit = True
            except BaseException:
                self.discard(connection)
                raise
        return connection

    def give_back(self, connection, commit):
        if self.autocommit:
            connection.driver_connection.autocommit = False  # committed already
        elif commit:
            connection.driver_connection.commit()
        connection.close()

    def discard(self, connection):
        connection.invalidate()  # a broken connection never goes back to the pool
        connection.close()


class ThreadConnections:
    """SQLite: one connection for each thread, kept from one statement to the next."""

    def __init__(self, engine):
        self.engine = engine
        self.local = threading.local()
        # For dispose(); weak, so that a thread's connection goes (and closes) with the thread.
        self.opened = weakref.WeakSet()
        self.lock = threading.Lock()
        sa.event.listen(engine, "engine_disposed", self.close_all)

    def take(self):
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = self.engine.raw_connection()
            connection.detach()  # the pool forgets it; close() really closes it
            self.local.connection = connection
            with self.lock:
                self.opened.add(connection)
        return connection

    def give_back(self, connection, commit):
        if commit:
            connection.dbapi_connection.commit()  # detached: no driver_connection

    def discard(self, connection):
        self.local.connection = None
        with self.lock:
            self.opened.discard(connection)
        connection.close()

    def close_all(self, engine=None):
        with self.lock:
            opened, self.opened = list(self.opened), weakref.WeakSet()
        for connection in opened:
            connection.close()
        # Threads that kept one make a new one on their next statement.
        self.local = threading.local()

