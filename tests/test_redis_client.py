"""The rate limits' own Redis client (api/redis_client.py) against a real redis-server."""

import io
import socket
import threading
import time

import pytest
import redis

from api.redis_client import Redis, RedisError, read_reply
from tests.conftest import before_storage
from tests.helpers import poll
from tests.redis_server import RedisServer

TIMEOUT = 0.25


@pytest.fixture
def protected_redis():
    """A redis-server with a password for the default user and a user of its own."""
    server = RedisServer(
        arguments=["--requirepass", "s3cret", "--user", "alice", "on", ">wonder", "~*", "+@all"]
    )
    server.start()
    yield server
    server.stop()


def address(server):
    return f"127.0.0.1:{server.port}"


@pytest.mark.server
def test_commands_and_scripts_in_one_round_trip(redis_server):
    client = Redis(redis_server.url, TIMEOUT)
    assert client.execute(("SET", "k", 41), ("INCR", "k"), ("GET", "k"), ("GET", "none")) == [
        "OK",
        42,
        b"42",
        None,
    ]
    script = "return {redis.call('INCRBY', KEYS[1], ARGV[1]), 'text', {1, 2}}"
    assert client.eval(script, ["k"], [8]) == [50, b"text", [1, 2]]
    assert client.execute(("PTTL", "k")) == [-1]


def connected_clients(url):
    """Connections the server has open, redis-py's own for asking included."""
    inspector = redis.Redis.from_url(url)
    try:
        return len(inspector.client_list())
    finally:
        inspector.close()


@pytest.mark.server
def test_each_thread_has_a_connection_of_its_own_until_it_ends(redis_server):
    client = Redis(redis_server.url, TIMEOUT)
    counted, release = threading.Barrier(5), threading.Event()

    def count():
        for _ in range(200):
            client.execute(("INCR", "shared"))
        counted.wait()
        release.wait()

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    counted.wait()
    assert connected_clients(redis_server.url) == 4 + 1
    release.set()
    for thread in threads:
        thread.join()
    assert client.execute(("GET", "shared")) == [b"800"]
    # The ended threads' connections are closed: the main thread's and the inspector's are left.
    poll(lambda: connected_clients(redis_server.url) == 2, 5, "closed connections")


@pytest.mark.server
def test_an_error_reply_raises_and_the_connection_goes_on(redis_server):
    client = Redis(redis_server.url, TIMEOUT)
    client.execute(("SET", "text", "abc"))
    with pytest.raises(RedisError, match="not an integer"):
        client.execute(("INCR", "text"), ("SET", "after", 1))
    # The reply after the error was read too: the next command gets its own reply.
    assert client.execute(("GET", "after"), ("GET", "text")) == [b"1", b"abc"]


@pytest.mark.server
def test_password_user_and_database_from_the_url(protected_redis):
    host = address(protected_redis)
    Redis(f"redis://:s3cret@{host}/3", TIMEOUT).execute(("SET", "by-default-user", 1))
    Redis(f"redis://alice:wonder@{host}/3", TIMEOUT).execute(("SET", "by-alice", 1))
    inspector = redis.Redis.from_url(f"redis://:s3cret@{host}/3")
    assert sorted(inspector.keys()) == [b"by-alice", b"by-default-user"]
    inspector.close()
    for url in (f"redis://:wrong@{host}/0", f"redis://{host}/0"):
        with pytest.raises(RedisError):
            Redis(url, TIMEOUT).execute(("SET", "refused", 1))


@pytest.mark.server
def test_a_restarted_server_is_reached_again(redis_server):
    client = Redis(redis_server.url, TIMEOUT)
    assert client.execute(("INCR", "n")) == [1]
    redis_server.stop()
    with pytest.raises(RedisError):
        client.execute(("INCR", "n"))
    redis_server.start()
    assert client.execute(("INCR", "n")) == [1]  # a new server: it kept nothing


def test_a_server_that_never_answers_times_out():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = Redis(f"redis://127.0.0.1:{listener.getsockname()[1]}/0", TIMEOUT)
        started = time.monotonic()
        with pytest.raises(RedisError, match="timed out"):
            client.execute(("GET", "k"))
        assert time.monotonic() - started < 5 * TIMEOUT


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:6379/0", "redis:// or rediss://"),
        ("redis://127.0.0.1:6379/zero", "a number"),
        ("redis://127.0.0.1:6379/0?socket_timeout=1", "unknown Redis URL options: socket_timeout"),
        ("rediss://127.0.0.1:6379/0?ssl_cert_reqs=maybe", "none, optional or required"),
    ],
)
def test_a_url_it_cannot_read_is_refused(url, message):
    with pytest.raises(ValueError, match=message):
        Redis(url, TIMEOUT)


@before_storage
def test_an_unreadable_redis_url_stops_the_app_at_start_up(database_url, make_app):
    with pytest.raises(ValueError, match="unknown Redis URL options: retries"):
        make_app(database_url, RATE_LIMIT="5/second", REDIS_URL="redis://127.0.0.1/0?retries=3")


def test_replies_of_every_kind_are_read():
    stream = io.BytesIO(b"*5\r\n+OK\r\n:-7\r\n$5\r\nab\r\nc\r\n$-1\r\n*2\r\n*0\r\n-ERR no\r\n")
    reply = read_reply(stream)
    assert reply == ["OK", -7, b"ab\r\nc", None, [[], "ERR no"]]
    with pytest.raises(EOFError):
        read_reply(io.BytesIO(b"$10\r\nshort\r\n"))
