"""The sandbox's SMS half on real sockets, and a stand-in for Kalan's callbacks."""

import re
import threading
import time
from dataclasses import dataclass

import pytest
import requests
from africastalking.SMS import SMSService
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sandbox import create_app

USERNAME, KEY = "sandbox", "sandbox-key"
A, B, C = "+22370000001", "+22370000002", "+22370000003"
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
TOKEN = "s3cr&t"
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

    @property
    def form(self) -> dict:
        return dict(self.pairs)


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
        pairs = list(request.form.items(multi=True))
        with self._lock:
            self.seen.append(Seen(request.path, request.query_string.decode(), pairs))
            status = self.answers.pop(0) if self.answers else 200
        return Response("OK", status)(environ, start_response)

    def posts(self, path: str) -> list[Seen]:
        """Return what was posted to path so far."""
        with self._lock:
            return [seen for seen in self.seen if seen.path == path]


@pytest.fixture(name="kalan")
def _kalan():
    kalan = Kalan()
    thread = threading.Thread(target=kalan.server.serve_forever, args=(POLL_S,), daemon=True)
    thread.start()
    yield kalan
    kalan.server.shutdown()
    kalan.server.server_close()
    thread.join()


@dataclass
class Sandbox:
    """The sandbox app served over real HTTP, and ways to drive it."""

    app: object
    url: str

    def sms(self, username: str = USERNAME, key: str = KEY) -> SMSService:
        """Return the official SDK's SMS service, pointed at the sandbox."""
        service = SMSService(username, key)
        service._baseUrl = service._contentUrl = f"{self.url}/version1"
        return service

    def set_faults(self, **faults) -> None:
        """Put faults in force through the control API."""
        response = requests.post(f"{self.url}/sandbox/faults", json=faults, timeout=5)
        assert response.status_code == 200, response.text

    def messages(self, to: str | None = None) -> list[dict]:
        """List what the sandbox recorded as sent, through the control API."""
        params = {"to": to} if to else {}
        return requests.get(f"{self.url}/sandbox/messages", params=params, timeout=5).json()

    def settled(self) -> bool:
        """Tell whether every delivery report has been posted."""
        return self.app.extensions["sms_courier"].idle()


@pytest.fixture(name="serve")
def _serve(kalan):
    """Return a factory of sandboxes on real sockets, calling back to `kalan`."""
    running = []

    def serve(**config) -> Sandbox:
        app = create_app(
            {"TESTING": True, "KALAN_URL": kalan.url, "SANDBOX_DLR_DELAY_S": 0.01, **config}
        )
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, args=(POLL_S,), daemon=True)
        thread.start()
        running.append((app, server, thread))
        return Sandbox(app, f"http://127.0.0.1:{server.port}")

    yield serve
    for app, server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join()
        app.extensions["sms_courier"].close()


@pytest.fixture(name="sandbox")
def _sandbox(serve):
    return serve(WEBHOOK_TOKEN=TOKEN)
