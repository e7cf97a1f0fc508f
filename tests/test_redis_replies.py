"""Replies read straight from the hiredis reader: the same as redis-py's, failures alike."""

import json
import socket
import struct
import time

import pytest
from redis import Redis
from redis._parsers import _RESP2Parser
from redis.backoff import NoBackoff
from redis.connection import Connection
from redis.exceptions import (
    AuthenticationError,
    ConnectionError,
    NoScriptError,
    ResponseError,
    TimeoutError,
)
from redis.retry import Retry
from redis.sentinel import SentinelConnectionPool

from app.infra import redis_replies, sessions
from app.infra.sessions import SessionStore
from sandbox.embedded import EmbeddedRedis


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A Redis of this module's own: its tests pause and kill clients."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("replies")).start()
    yield server
    server.stop()


def batch(conn, *commands) -> list:
    """Send commands in one write down conn; return redis_replies.read's replies."""
    conn.send_packed_command(conn.pack_commands(commands))
    return redis_replies.read(conn, len(commands))


@pytest.mark.parametrize("parser", [None, _RESP2Parser], ids=["hiredis", "redis-py's own"])
def test_replies_are_redis_pys_and_an_error_leaves_the_connection_clean(server, parser):
    options = {} if parser is None else {"parser_class": parser}
    client = Redis.from_url(server.url, **options)
    client.flushdb()  # the server is this module's own
    client.set("text", "a")
    client.hset("hash", mapping={"f": "1"})
    conn = client.connection_pool.get_connection()
    replies = batch(
        conn,
        ("SET", "lock", "t", "NX", "PX", 1000, "GET"),
        ("INCR", "text"),  # not a number: an error reply, in the middle
        ("MGET", "text", "missing"),
        ("HGETALL", "hash"),
        ("EVALSHA", "0" * 40, 0),
    )
    assert replies[0] is None and replies[2] == [b"a", None]
    assert isinstance(replies[1], ResponseError) and "not an integer" in str(replies[1])
    assert replies[3] in ({b"f": b"1"}, [b"f", b"1"])  # RESP3 or RESP2
    assert type(replies[4]) is NoScriptError  # the class redis-py gives it
    assert batch(conn, ("GET", "lock")) == [b"t"]  # every reply was read: in step
    client.connection_pool.release(conn)


@pytest.mark.parametrize("kernel", [False, True], ids=["python's timeout", "the kernel's"])
def test_a_reply_too_slow_times_out_and_drops_the_connection(server, kernel):
    client, other = Redis.from_url(server.url, socket_timeout=0.2), Redis.from_url(server.url)
    conn = client.connection_pool.get_connection()
    if kernel:
        conn.connect()
        redis_replies.kernel_timed(conn)
    # Writes paused far longer than the 0.2 s timeout, and let go once it fired (a pause of
    # ALL commands holds UNPAUSE too): paused for 0.6 s, a machine slow for 0.4 s before the
    # batch was sent had the replies in time.
    other.execute_command("CLIENT", "PAUSE", 30_000, "WRITE")
    try:
        with pytest.raises(TimeoutError):
            batch(conn, ("SET", "a", "1"), ("SET", "b", "2"))
    finally:
        other.execute_command("CLIENT", "UNPAUSE")
    assert conn._sock is None  # its late replies must not answer the next commands


def test_a_kernel_timed_socket_keeps_the_timeout_without_pythons_polls(server):
    conn = Redis.from_url(server.url, socket_timeout=0.25).connection_pool.get_connection()
    conn.connect()
    redis_replies.kernel_timed(conn)
    sock = conn._sock
    assert sock.gettimeout() is None  # blocking: Python polls no more before a send or read
    for option in (socket.SO_RCVTIMEO, socket.SO_SNDTIMEO):
        seconds, micros = struct.unpack("ll", sock.getsockopt(socket.SOL_SOCKET, option, 16))
        # The kernel keeps it in its clock's ticks (a few milliseconds).
        assert seconds + micros / 1e6 == pytest.approx(0.25, abs=0.011)
    assert batch(conn, ("SET", "k", "v"), ("GET", "k")) == [b"OK", b"v"]
    conn.disconnect()
    conn.connect()  # a new socket: Python's timeout again, until it is set once more
    assert conn._sock.gettimeout() == 0.25


@pytest.mark.parametrize(("timeout", "left"), [(1e-7, False), (0, True)], ids=["tiny", "zero"])
def test_no_timeout_is_ever_made_an_endless_wait(server, timeout, left):
    """The kernel reads a zero timeval as no timeout: a tiny one is a microsecond at least,
    and 0 (Python's non-blocking socket) keeps Python's way."""
    conn = Connection(port=server.port, socket_timeout=timeout)
    # Its socket as connect() leaves it, without a handshake that such a timeout would cut.
    conn._sock = socket.create_connection(("127.0.0.1", server.port))
    conn._sock.settimeout(timeout)
    redis_replies.kernel_timed(conn)
    kept = struct.unpack("ll", conn._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16))
    if left:
        assert conn._sock.gettimeout() == 0 and kept == (0, 0)
    else:
        assert conn._sock.gettimeout() is None and kept != (0, 0)
    conn.disconnect()


def test_a_write_nobody_reads_times_out_as_a_timeout():
    """A peer that stops reading fills the socket's buffers: the kernel's timeout on the send
    is raised as redis-py's TimeoutError, as Python's would be, and the connection dropped."""
    deaf = socket.create_server(("127.0.0.1", 0))
    try:
        conn = Connection(port=deaf.getsockname()[1], socket_timeout=0.2)
        # Its socket, without the handshake: the server accepts, and never reads.
        conn._sock = socket.create_connection(deaf.getsockname(), timeout=0.2)
        redis_replies.kernel_timed(conn)
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="writing"):
            sessions._exchange(conn, [("SET", "k", "x" * 64_000_000)])
        assert time.monotonic() - started < 30 and conn._sock is None
    finally:
        deaf.close()


def test_a_connection_closed_by_the_server_raises_and_is_dropped(server):
    client, other = Redis.from_url(server.url), Redis.from_url(server.url)
    conn = client.connection_pool.get_connection()
    conn.connect()
    conn.send_command("CLIENT", "ID")
    own_id = conn.read_response()
    other.client_kill_filter(_id=own_id)
    with pytest.raises(ConnectionError):
        batch(conn, ("GET", "a"))
    assert conn._sock is None
    assert batch(conn, ("PING",)) == [b"PONG"]  # the next use connects afresh


def test_a_push_before_a_reply_is_not_taken_for_it(server):
    """RESP3 lets the server push a message (here a tracking invalidation) at any time."""
    client, other = Redis.from_url(server.url, protocol=3), Redis.from_url(server.url)
    conn = client.connection_pool.get_connection()
    assert batch(conn, ("CLIENT", "TRACKING", "ON"), ("SET", "watched", 1), ("GET", "watched"))
    other.set("watched", 2)  # the server pushes an invalidation to conn
    other.set("plain", "p")
    assert batch(conn, ("GET", "plain")) == [b"p"]


def test_an_error_reply_of_the_connections_kind_is_raised_and_drops_it(server):
    """redis-py raises these (a failed AUTH, LOADING) rather than return them."""
    conn = Redis.from_url(server.url).connection_pool.get_connection()
    with pytest.raises(AuthenticationError):
        batch(conn, ("PING",), ("AUTH", "nobody", "wrong"))
    assert conn._sock is None


def address(client: Redis) -> tuple[str, int]:
    """Return the host and port a client connects to."""
    kwargs = client.connection_pool.connection_kwargs
    return kwargs["host"], kwargs["port"]


class StandInSentinel:
    """What SentinelConnectionPool asks of the sentinels: where the primary is."""

    def __init__(self, address):
        self.address = address

    def discover_master(self, name):
        return self.address


def test_a_primary_demoted_under_a_kept_connection_is_left_for_the_new_one(tmp_path):
    """A failover that leaves clients connected (Redis's FAILOVER, a REPLICAOF) answers
    writes with READONLY: as redis-py's Sentinel connection does, it drops the connection,
    and the retry asks the sentinels again and reaches the new primary."""
    old, new = (EmbeddedRedis(tmp_path / name).start() for name in ("old", "new"))
    try:
        clients = {s: Redis.from_url(s.url) for s in (old, new)}
        where = {s: address(c) for s, c in clients.items()}
        sentinels = StandInSentinel(where[old])
        # The app's one quick retry (app/infra/redis_client.py), on each connection.
        pool = SentinelConnectionPool("kalan", sentinels, retry=Retry(NoBackoff(), 1))
        store = SessionStore(Redis(connection_pool=pool), "t:", 60, 60, "Africa/Bamako")
        store.save("s1", store.load("s1", "+22370000001"), {"n": 1})
        clients[old].execute_command("REPLICAOF", *where[new])
        sentinels.address = where[new]
        store.save("s1", store.load("s1", "+22370000001"), {"n": 2})
        assert json.loads(clients[new].get("t:session:s1")) == {"n": 2}
    finally:
        old.stop()
        new.stop()
