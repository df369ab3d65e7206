"""Pooled Postgres connections that sat unused: pinged before use, closed after a while."""

import threading
import time

import sqlalchemy as sa


class IdleConnections:
    """Watches a pool's connections while they are checked in.

    Ping: a connection goes bad while it sits unused (a database restart or failover, an
    idle timeout in a firewall or proxy). Pinging those before use replaces them without
    an error, as pool_pre_ping does; pinging a connection that answered a moment ago would
    only add a round trip to every request (about a fifth of a GET's time, measured). If
    one dies while busy, its request gets a 503 and the pool replaces it.

    Close: SQLAlchemy's pool keeps every connection it ever opened, so an instance that
    was busy once holds its peak number of connections forever, and a small database
    (20 connections) has none left for the release phase or a one-off command. A thread
    closes connections unused for `close_after` seconds; the pool entry stays and opens a
    new connection when it is next needed, so the pool's cap is never exceeded. The thread
    runs only while some connection is idle, and stops when none is left to watch.
    """

    def __init__(self, engine, ping_after, close_after):
        self.ping_after = ping_after  # <= 0: pool_pre_ping pings every checkout instead
        self.close_after = close_after  # <= 0: never close
        self.dialect = engine.dialect
        self.lock = threading.Lock()
        self.idle_since = {}  # pool entry -> time.monotonic() when it was checked in
        self.closer = None
        sa.event.listen(engine, "checkin", self.checked_in)
        sa.event.listen(engine, "checkout", self.checked_out)

    def checked_in(self, dbapi_connection, pool_entry):
        if dbapi_connection is None:
            return  # invalidated: there is no server connection left to watch
        with self.lock:
            self.idle_since[pool_entry] = time.monotonic()
            if self.close_after > 0 and self.closer is None:
                self.closer = threading.Thread(
                    target=self.close_idle, name="close-idle-connections", daemon=True
                )
                self.closer.start()

    def checked_out(self, dbapi_connection, pool_entry, connection_proxy):
        with self.lock:
            idle_since = self.idle_since.pop(pool_entry, None)
            if pool_entry.dbapi_connection is not dbapi_connection:
                # Closed by close_idle after the pool handed it out but before this
                # event: the pool discards it and opens a new one.
                raise sa.exc.DisconnectionError("connection was closed while idle")
        if self.ping_after <= 0 or idle_since is None:
            return
        if time.monotonic() - idle_since < self.ping_after:
            return
        try:
            self.dialect.do_ping(dbapi_connection)
        except self.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and checks out a fresh one.
            raise sa.exc.DisconnectionError(str(error)) from error

    def close_idle(self):
        """Close connections idle for close_after seconds; return when none is idle."""
        while True:
            with self.lock:
                now = time.monotonic()
                for pool_entry, since in list(self.idle_since.items()):
                    if now - since >= self.close_after:
                        del self.idle_since[pool_entry]
                        # Under the lock, so checked_out sees either the open connection
                        # (and takes it off this list first) or the closed one.
                        pool_entry.close()
                if not self.idle_since:
                    self.closer = None
                    return
                wake_at = min(self.idle_since.values()) + self.close_after
            time.sleep(max(wake_at - now, 0.01))
