"""Replies read straight from the hiredis reader: the same as redis-py's, failures alike."""

import pytest
from redis import Redis
from redis._parsers import _RESP2Parser
from redis.exceptions import ConnectionError, NoScriptError, ResponseError, TimeoutError

from app.infra import redis_replies
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


def test_a_reply_too_slow_times_out_and_drops_the_connection(server):
    client, other = Redis.from_url(server.url, socket_timeout=0.2), Redis.from_url(server.url)
    conn = client.connection_pool.get_connection()
    other.execute_command("CLIENT", "PAUSE", 600, "ALL")
    try:
        with pytest.raises(TimeoutError):
            batch(conn, ("GET", "a"), ("GET", "b"))
    finally:
        other.execute_command("CLIENT", "UNPAUSE")
    assert conn._sock is None  # its late replies must not answer the next commands


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
