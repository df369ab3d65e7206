"""A Redis client for the rate limits: their few commands, in RESP, one connection a thread.

Why not redis-py: importing it adds about 6 MB to every worker (the package imports its
asyncio, cluster and sentinel clients whatever is used), and took a worker on Postgres with
Redis limits on to 74.6 MB, over the 70 MB budget (bench/run.py, VmHWM). The limits need
EVAL (their scripts), GET and PTTL, and AUTH and SELECT to connect: a request is an array of
strings, a reply one of five kinds (https://redis.io/docs/latest/develop/reference/protocol-spec/).

The URL is redis-py's: redis://[[user]:password@]host[:port][/db], rediss:// for TLS, whose
certificate is checked against the system's CA bundle, or `?ssl_ca_certs=<file>`; checking is
off with `?ssl_cert_reqs=none` (or the caller's verify_tls=False). Any other option is refused.
"""

import socket
import ssl
import threading
import weakref
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_PORT = 6379
CERT_REQUIREMENTS = {
    "none": ssl.CERT_NONE,
    "optional": ssl.CERT_OPTIONAL,
    "required": ssl.CERT_REQUIRED,
}


class RedisError(Exception):
    """Redis could not be reached, did not answer in time, or answered with an error."""


class Redis:
    """A client for one Redis server; each thread that uses it gets a connection of its own."""

    def __init__(self, url, timeout, verify_tls=True):
        """ValueError if the URL is not one this client reads."""
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError(f"a Redis URL starts with redis:// or rediss://, not {url!r}")
        self.address = (parts.hostname or "localhost", parts.port or DEFAULT_PORT)
        self.credentials = ()
        if parts.password is not None:
            # AUTH password, or AUTH user password (Redis 6 ACLs) when the URL names a user.
            user, password = unquote(parts.username or ""), unquote(parts.password)
            self.credentials = (user, password) if user else (password,)
        database = parts.path.strip("/") or "0"
        if not database.isdigit():
            raise ValueError(f"the Redis database in the URL's path is a number, not {database!r}")
        self.database = int(database)
        options = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        unknown = set(options) - {"ssl_ca_certs", "ssl_cert_reqs"}
        if unknown:
            raise ValueError(f"unknown Redis URL options: {', '.join(sorted(unknown))}")
        self.tls = tls_context(options, verify_tls) if parts.scheme == "rediss" else None
        self.timeout = timeout
        self.local = threading.local()

    def eval(self, script, keys, arguments):
        """Run a Lua script (atomically, in Redis); its reply."""
        [reply] = self.execute(("EVAL", script, len(keys), *keys, *arguments))
        return reply

    def execute(self, *commands):
        """Send the commands together and read their replies, in order."""
        connection = getattr(self.local, "connection", None)
        try:
            if connection is None:
                connection = self.local.connection = self.connect()
            replies = connection.round_trip(commands)
        except (OSError, ValueError, EOFError) as error:
            # Timed out, refused, reset, or a reply cut short: this connection is done.
            self.local.connection = None
            if connection is not None:
                connection.close()
            raise RedisError(f"Redis at {self.address[0]}:{self.address[1]}: {error}") from error
        for reply in replies:
            if isinstance(reply, ErrorReply):
                raise RedisError(str(reply))
        return replies

    def connect(self):
        sock = socket.create_connection(self.address, timeout=self.timeout)
        try:
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.address[0])
            connection = Connection(sock)
        except BaseException:
            sock.close()
            raise
        handshake = []
        if self.credentials:
            handshake.append(("AUTH", *self.credentials))
        if self.database:
            handshake.append(("SELECT", self.database))
        if handshake:
            for reply in connection.round_trip(handshake):
                if isinstance(reply, ErrorReply):
                    connection.close()
                    raise ConnectionRefusedError(f"Redis refused the connection: {reply}")
        return connection


def tls_context(options, verify_tls):
    requirement = options.get("ssl_cert_reqs", "required").lower()
    if requirement not in CERT_REQUIREMENTS:
        raise ValueError(f"ssl_cert_reqs is none, optional or required, not {requirement!r}")
    context = ssl.create_default_context(cafile=options.get("ssl_ca_certs"))
    if not verify_tls or requirement == "none":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.verify_mode = CERT_REQUIREMENTS[requirement]
    return context


class ErrorReply(str):
    """A reply of Redis's error kind (-ERR ...), read like any other so that the replies of
    the commands after it are read too."""


class Connection:
    """One socket to Redis, with a buffered reader for its replies."""

    def __init__(self, sock):
        self.sock = sock
        self.reader = sock.makefile("rb")
        # A connection a thread left behind closes when it is collected, not at exit.
        self.closer = weakref.finalize(self, close_socket, self.reader, sock)

    def round_trip(self, commands):
        self.sock.sendall(b"".join(encode(command) for command in commands))
        return [read_reply(self.reader) for _ in commands]

    def close(self):
        self.closer()


def close_socket(reader, sock):
    reader.close()
    sock.close()


def encode(command):
    """A command as RESP: an array of bulk strings."""
    parts = [b"*%d\r\n" % len(command)]
    for argument in command:
        data = argument if isinstance(argument, bytes) else str(argument).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def read_reply(reader):
    """One reply: a str, ErrorReply, int, bytes, None or a list of those."""
    line = reader.readline()
    if not line.endswith(b"\r\n"):
        raise EOFError("the connection closed in the middle of a reply")
    kind, text = line[:1], line[1:-2]
    if kind == b"+":
        return text.decode()
    if kind == b"-":
        return ErrorReply(text.decode(errors="replace"))
    if kind == b":":
        return int(text)
    if kind == b"$":
        length = int(text)
        if length < 0:
            return None
        data = reader.read(length + 2)
        if len(data) != length + 2:
            raise EOFError("the connection closed in the middle of a reply")
        return data[:-2]
    if kind == b"*":
        length = int(text)
        return None if length < 0 else [read_reply(reader) for _ in range(length)]
    raise ValueError(f"not a Redis reply: {line[:40]!r}")
