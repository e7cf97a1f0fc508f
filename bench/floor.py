"""The I/O floors: apps that do a navigation hop's two Redis round trips and nothing else."""

import json
import os
import socket
import threading
from urllib.parse import parse_qsl, urlsplit

import hiredis
from bare import SCREEN
from flask import Flask, request

SESSION_TTL_S = 180  # as a USSD session lasts
HEADERS = [("Content-Type", "text/plain; charset=utf-8")]


def keys(prefix: str, session_id: str, phone: str) -> tuple[str, str]:
    """Return the session's key and the caller's, under the run's prefix."""
    return f"{prefix}floor:session:{session_id}", f"{prefix}floor:caller:{phone}"


def state(text: str) -> str:
    """Return the session as a hop would save it: a small JSON of where the caller is."""
    return json.dumps({"node": "menu", "text": text}, separators=(",", ":"))


def create_flask_redis() -> Flask:
    """Return a Flask app whose /ussd does one MGET and one pipelined SET through redis-py."""
    from redis import Redis

    app = Flask(__name__)
    held: dict = {}  # the client, made by the first request of each process

    def client() -> Redis:
        if "redis" not in held:
            held["redis"] = Redis.from_url(os.environ["REDIS_URL"], socket_timeout=1)
        return held["redis"]

    @app.post("/ussd")
    def ussd():
        form = request.form
        redis, text = client(), form.get("text", "")
        session, caller = keys(os.environ["REDIS_PREFIX"], form["sessionId"], form["phoneNumber"])
        redis.mget(session, caller)  # what a hop reads: its session, its caller's companions
        pipe = redis.pipeline(transaction=False)
        pipe.set(session, state(text), ex=SESSION_TTL_S)
        pipe.execute()
        return SCREEN, 200, {"Content-Type": "text/plain; charset=utf-8"}

    @app.get("/healthz")
    def healthz():
        return "ok"

    return app


def pack(*args) -> bytes:
    """Return one command in RESP, Redis's wire format."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class Thin:
    """A Redis client of one socket: commands packed by hand, replies parsed by hiredis."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port or 6379), timeout=1)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = hiredis.Reader()
        hello = []
        if parts.password:
            hello.append(("AUTH", parts.password))
        if parts.path.strip("/"):
            hello.append(("SELECT", parts.path.strip("/")))
        if hello:
            self.call(*hello)

    def call(self, *commands: tuple) -> list:
        """Send commands in one write; return their replies (one round trip)."""
        self.sock.sendall(b"".join(pack(*command) for command in commands))
        replies = []
        while len(replies) < len(commands):
            reply = self.reader.gets()
            if reply is False:
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError("Redis closed the connection")
                self.reader.feed(data)
            elif isinstance(reply, hiredis.ReplyError):
                raise reply
            else:
                replies.append(reply)
        return replies


def create_lean():
    """Return a raw WSGI app doing the same two round trips through a hiredis client."""
    local = threading.local()  # a client per thread, made by its first request
    body = SCREEN.encode()
    headers = [*HEADERS, ("Content-Length", str(len(body)))]

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
            return [b"ok"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        form = dict(parse_qsl(environ["wsgi.input"].read(length).decode()))
        if not hasattr(local, "redis"):
            local.redis = Thin(os.environ["REDIS_URL"])
        session, caller = keys(os.environ["REDIS_PREFIX"], form["sessionId"], form["phoneNumber"])
        local.redis.call(("MGET", session, caller))
        local.redis.call(("SET", session, state(form.get("text", "")), "EX", SESSION_TTL_S))
        start_response("200 OK", headers)
        return [body]

    return app
