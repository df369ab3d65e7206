"""Driver connections for the hot paths' statements (api/queries.py holds the SQL).

The hot paths (GET's SELECT, create's INSERT, a listing's page) run one statement each on a
bare driver connection, skipping SQLAlchemy's execution layer: about 60 µs (SQLite) and
150 µs (Postgres) of CPU a request (in-process, min of 7). Where that connection comes from
depends on the database:

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


class DriverConnections:
    """Runs one statement at a time; the subclasses say where its connection comes from."""

    def __init__(self, engine):
        self.engine = engine
        # Which SQL the statements need (each driver has its own placeholders); read here
        # once, as db.engine on every request took about 1 % of a GET's instructions.
        self.dialect = engine.dialect.name

    def rows(self, sql, parameters, commit=False):
        """Run one statement; its rows, as the driver gives them. With `commit`, committed
        when it returns."""
        connection = None
        try:
            connection = self.take()
            cursor = connection.cursor()
            cursor.execute(sql, parameters)
            # fetchall: an INSERT ... RETURNING runs to its end before SQLite commits.
            rows = cursor.fetchall()
            cursor.close()
            self.give_back(connection, commit)
        except BaseException as error:
            # Failed, or interrupted half-way (a worker's timeout): never used again.
            if connection is not None:
                self.discard(connection)
            dbapi_error = self.engine.dialect.loaded_dbapi.Error
            if isinstance(error, dbapi_error):
                # Wrapped as SQLAlchemy wraps it (OperationalError and so on), so that
                # errors.py answers a database outage here with the same 503 as anywhere else.
                raise sa.exc.DBAPIError.instance(sql, parameters, error, dbapi_error) from error
            raise
        return rows


class PooledConnections(DriverConnections):
    """A pooled connection for each statement; on Postgres, in autocommit."""

    def __init__(self, engine):
        super().__init__(engine)
        self.autocommit = self.dialect == "postgresql"

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


class ThreadConnections(DriverConnections):
    """SQLite: one connection for each thread, kept from one statement to the next."""

    def __init__(self, engine):
        super().__init__(engine)
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

