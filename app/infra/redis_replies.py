"""A round trip's replies read straight from the hiredis reader of a redis-py connection.

redis-py's read_response wraps every reply in its own checks and error handling, a
few microseconds a reply, and a hop's two round trips carry up to nine replies. Here
the replies come from the reader that the connection's parser holds, fed from its
socket; a failure, or an error reply redis-py would raise rather than return,
disconnects and is raised as redis-py raises it, so its retry and its pool treat it
alike. A connection with another parser reads as redis-py does.

A socket with a timeout makes Python poll before each send and each receive: four
system calls a hop on top of the four that move its bytes. kernel_timed() gives a
connection's plain socket the same timeout, kept by the kernel (SO_RCVTIMEO, SO_SNDTIMEO).
"""

import socket
import struct

from redis._parsers.hiredis import NOT_ENOUGH_DATA, _HiredisParser
from redis.exceptions import ConnectionError, ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.sentinel import SentinelManagedConnection


def read(conn, count: int) -> list:
    """Return the next count replies on conn; an error reply is returned, not raised."""
    parser = conn._parser
    if not isinstance(parser, _HiredisParser):
        return [_one(conn) for _ in range(count)]
    push = parser._hiredis_PushNotificationType  # None before hiredis 3.2, or on RESP2
    replies = []
    try:
        while len(replies) < count:
            reader = parser._reader
            if reader is None:  # disconnected under us
                raise ConnectionError("Connection closed by server.")
            reply = reader.gets()
            if reply is NOT_ENOUGH_DATA:
                _fill(parser, reader)
            elif push is not None and isinstance(reply, push):
                parser.handle_push_response(reply)  # not a reply to us: as redis-py does
            else:
                replies.append(reply)
    except (TimeoutError, BlockingIOError) as exc:  # Python's timeout, or the kernel's
        conn.disconnect()
        raise RedisTimeoutError("Timeout reading from socket") from exc
    except OSError as exc:
        conn.disconnect()
        raise ConnectionError(f"Error while reading from socket: {exc.args}") from exc
    except BaseException:
        # Replies may be left unread on the wire: the connection must not be used again.
        conn.disconnect()
        raise
    for reply in replies:
        _check(conn, reply)
    return replies


def send(conn, packed: bytes) -> None:
    """Write packed commands down conn, as send_packed_command does; the kernel's timeout
    (kernel_timed) raised as Python's is, a TimeoutError."""
    try:
        conn.send_packed_command([packed])
    except ConnectionError as exc:
        if isinstance(exc.__cause__, BlockingIOError):
            raise RedisTimeoutError("Timeout writing to socket") from exc
        raise


def kernel_timed(conn) -> None:
    """Let the kernel, not Python, time conn's plain socket out: the same timeout, no polls.

    A TLS socket keeps Python's timeout, which its reads rely on; a socket set once is
    left alone (a new one, after a reconnection, is set again).
    """
    sock = conn._sock
    seconds = sock.gettimeout() if type(sock) is socket.socket else None
    if not seconds:  # none, or 0 (Python's non-blocking), which no kernel timeout means
        return
    whole = int(seconds)
    # At least a microsecond: a zero timeval is no timeout at all.
    micros = max(int((seconds - whole) * 1_000_000), 0 if whole else 1)
    timeval = struct.pack("ll", whole, micros)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
    sock.settimeout(None)


def _fill(parser, reader) -> None:
    """Feed the reader what the socket holds, waiting for it: read_from_socket, lighter."""
    sock = parser._sock
    if sock is None:  # disconnected under us
        raise ConnectionError("Connection closed by server.")
    count = sock.recv_into(parser._buffer)
    if count == 0:
        raise ConnectionError("Connection closed by server.")
    reader.feed(parser._buffer, 0, count)


def _check(conn, reply) -> None:
    """Raise, disconnected, what redis-py's read_response raises so rather than return.

    An error reply of the connection's kind (LOADING, a failed AUTH) drops it; so does
    READONLY from a primary the sentinels have since demoted, which is how its next use
    asks them for the new one (SentinelManagedConnection.read_response).
    """
    first = reply[0] if isinstance(reply, list) and reply else reply
    if isinstance(first, ConnectionError):
        conn.disconnect()
        raise first
    if (
        isinstance(reply, ReadOnlyError)
        and isinstance(conn, SentinelManagedConnection)
        and conn.connection_pool.is_master
    ):
        conn.disconnect()
        raise ConnectionError("The previous master is now a slave")


def _one(conn):
    """Read one reply as redis-py does, an error reply returned rather than raised."""
    try:
        return conn.read_response()
    except ResponseError as exc:
        return exc
