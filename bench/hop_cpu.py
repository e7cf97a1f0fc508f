"""CPU time of a USSD navigation hop in this process, lever by lever.

Usage: python bench/hop_cpu.py [--machine] [--sessions 150] [--only VARIANT]
Plays a known caller's menu moves through the app's WSGI callable (real Redis and a
database, environs as a gateway's POST); prints CPU µs per hop with each lever as it
was, one at a time, in turns so that a busy machine weighs on all variants alike.
Instructions per hop: valgrind --tool=callgrind --collect-atstart=no
  --toggle-collect=functools_reduce python bench/hop_cpu.py --only was  (Ir / 200)
"""

import argparse
import gc
import io
import json
import random
import socket
import sys
import time
import uuid
from contextlib import ExitStack
from functools import partial, reduce
from unittest import mock
from urllib.parse import urlencode

import hiredis
from bare import create_app as bare
from common import TOKEN, in_process, services
from flask import Flask

from app import create_app
from app.conversation import hop
from app.infra import redis_replies, sessions

PHONE, HOPS = "+22370000011", 20  # navigation hops per session


def environ(session_id: str, text: str) -> dict:
    """Return a WSGI environ as gunicorn builds it for Africa's Talking's POST."""
    body = urlencode({"sessionId": session_id, "serviceCode": "*123#", "phoneNumber": PHONE,
                      "text": text, "networkCode": "99999"}).encode()  # fmt: skip
    head = {"REQUEST_METHOD": "POST", "PATH_INFO": "/ussd", "QUERY_STRING": "token=" + TOKEN,
            "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "SCRIPT_NAME": "", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "kalan"}  # fmt: skip
    return {**head, "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "https", "wsgi.version": (1, 0)}  # fmt: skip


def session(app, run=lambda hop, batch, _: [hop(None, env) for env in batch][-1]) -> float:
    """Dial (untimed), play HOPS navigation hops with run; return CPU µs per hop."""
    session_id, keys = "ATUid_" + uuid.uuid4().hex, ["5", "0"] * (HOPS // 2)
    b"".join(app(environ(session_id, ""), lambda *_: None))
    batch = [environ(session_id, "*".join(keys[: n + 1])) for n in range(HOPS)]
    start = time.process_time()
    last = run(lambda _, env: b"".join(app(env, lambda *_: None)), batch, b"")
    spent = time.process_time() - start
    assert last.startswith(b"CON Kalan - Menu principal"), last
    return spent / HOPS * 1e6


def command_layer(redis, commands):
    """The round trips as they were: redis-py's command layer (a script call, a Pipeline)."""
    if len(commands) == 1:
        return [redis.execute_command(*commands[0])]
    pipe = redis.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    return pipe.execute()


def own_packer(conn, commands):
    """sessions._exchange with the connection's own packer rather than hiredis.pack_command."""
    conn.send_packed_command(conn.pack_commands(commands))
    return [conn.read_response() for _ in commands]


def thin_client(redis):
    """A hand-rolled hiredis client on a socket of its own: no pool, timeout, retry or Sentinel."""
    kwargs, reader = redis.connection_pool.connection_kwargs, hiredis.Reader()
    sock = socket.create_connection((kwargs["host"], kwargs["port"]))

    def round_trip(commands):
        sock.sendall(b"".join([hiredis.pack_command(c) for c in commands]))
        replies = []
        while len(replies) < len(commands):
            while (reply := reader.gets()) is False:
                reader.feed(sock.recv(65536))
            replies.append(reply)
        return replies

    round_trip([("SELECT", kwargs.get("db", 0))])
    return round_trip


def python_timeout(conn) -> None:
    """redis_replies.kernel_timed as it was not: Python's own timeout on the socket, which
    polls before each send and each read (set back once, then left)."""
    if conn._sock.gettimeout() is None:
        conn._sock.settimeout(conn.socket_timeout)


def patched(patches: list) -> ExitStack:
    """Set each (object, attribute, value) until the returned stack closes."""
    stack = ExitStack()
    for patch in patches:
        stack.enter_context(mock.patch.object(*patch))
    return stack


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machine", action="store_true", help="use the machine's Redis and PG")
    parser.add_argument("--sessions", type=int, default=150, help="sessions per variant")
    parser.add_argument("--only", help="play this variant's hops alone (see above)")
    args = parser.parse_args()
    with services(None, None, args.machine) as (redis_url, database_url, label):
        app = create_app(in_process(redis_url, database_url))
        store, redis = app.extensions["sessions"], app.extensions["redis"]
        levers = {  # each lever as it was
            "edge: Flask view -> lean WSGI": [(app, "wsgi_app", partial(Flask.wsgi_app, app))],
            "store: redis-py commands -> pooled, packed": [
                (store, "_round_trip", partial(command_layer, redis))],
            "  packing: redis-py's -> hiredis's": [(sessions, "_exchange", own_packer)],
            "db: a Session per hop -> on first use": [(hop, "LazySession", lambda make: make())],
            "sockets: Python's timeout -> the kernel's": [
                (redis_replies, "kernel_timed", python_timeout)],
            "json: json -> orjson (session store)": [
                (sessions, "_encode", partial(json.dumps, separators=(",", ":"))),
                (sessions, "_decode", lambda raw: None if raw is None else json.loads(raw))],
        }  # fmt: skip
        variants = {"now": [], "was": [p for patches in levers.values() for p in patches], **levers,
                    "bare Flask: fixed screen, no Redis": [(app, "wsgi_app", bare())],
                    "not taken: pooled -> thin hiredis client": [
                        (store, "_round_trip", thin_client(redis))]}  # fmt: skip
        for _ in range(10):  # the first hops of a process fill its caches
            session(app)
        # As a web worker does once loaded (app/web/gunicorn_conf.post_worker_init): else
        # the collector's full passes over the loaded app land on the hops measured here.
        gc.collect()
        gc.freeze()
        if args.only:
            with patched(next(v for k, v in variants.items() if k.startswith(args.only))):
                sum(session(app, reduce) for _ in range(200 // HOPS))
            return 0
        samples = {name: [] for name in variants}
        for _ in range(args.sessions):
            for name in random.sample(list(variants), len(variants)):  # a new order each round
                with patched(variants[name]):
                    samples[name].append(session(app))
        app.extensions["engine"].dispose()
    fast = {name: sorted(values)[len(values) // 10] for name, values in samples.items()}
    now = fast.pop("now")
    print(f"CPU µs per navigation hop ({label}), fastest tenth of {args.sessions} x {HOPS} hops")
    print(f"{'now (every lever as it is)':<46}{now:6.0f}")
    for name, value in fast.items():
        before, after = (now, value) if name.startswith(("not", "bare")) else (value, now)
        print(f"{name:<46}{before:6.0f} -> {after:4.0f} ({after - before:+.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
