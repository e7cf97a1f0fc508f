"""What the sandbox's SMS tests share: a stand-in for Kalan's callback endpoints on a real
socket, which notes every request (form or JSON), and a poll for what arrives later."""

import json
import threading
import time
from dataclasses import dataclass

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

POLL_S = 0.02  # how often a test server checks for shutdown


def wait_for(check, timeout: float = 5.0):
    """Poll check until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"still waiting after {timeout} s")
        time.sleep(0.01)


@dataclass
class Seen:
    """One callback as Kalan's stand-in received it."""

    path: str
    query: str
    pairs: list
    content_type: str = ""
    body: bytes = b""

    @property
    def form(self) -> dict:
        return dict(self.pairs)

    @property
    def json(self):
        return json.loads(self.body)


class Kalan:
    """A throwaway stand-in for Kalan's SMS callback endpoints, on a real socket.

    It records every request and answers the statuses queued in `answers`,
    then 200.
    """

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.answers: list[int] = []
        self._lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.port}"

    def wsgi(self, environ, start_response):
        request = Request(environ)
        body = request.get_data()  # kept, so the form below still parses from it
        pairs = list(request.form.items(multi=True))
        seen = Seen(request.path, request.query_string.decode(), pairs, request.content_type, body)
        with self._lock:
            self.seen.append(seen)
            status = self.answers.pop(0) if self.answers else 200
        return Response("OK", status)(environ, start_response)

    def posts(self, path: str) -> list[Seen]:
        """Return what was posted to path so far."""
        with self._lock:
            return [seen for seen in self.seen if seen.path == path]
