"""The sandbox's SMS half on real sockets, calling back to Kalan's stand-in (`kalan`)."""

import re
import threading
from dataclasses import dataclass

import pytest
import requests
from africastalking.SMS import SMSService
from werkzeug.serving import make_server

from sandbox import create_app

from ..kalan_standin import POLL_S

USERNAME, KEY = "sandbox", "sandbox-key"
A, B, C = "+22370000001", "+22370000002", "+22370000003"
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
TOKEN = "s3cr&t"


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
