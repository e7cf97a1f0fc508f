"""Fixtures: a real Redis and a real database for every test, flaskr style."""

import contextlib
import os
import threading
import uuid
from pathlib import Path
from xml.etree import ElementTree

import pytest
import requests
from click.testing import CliRunner
from flask.cli import ScriptInfo
from redis import Redis
from werkzeug.serving import make_server

from app import create_app
from app.cli import main
from app.infra.config import ROOT
from app.infra.models import Contact, utcnow
from sandbox import create_app as create_sandbox
from sandbox.embedded import EmbeddedRedis

from .databases import another_database, empty
from .kalan_standin import POLL_S, Kalan

PHONE = "+22370000099"
AGENT = "+22370000401"  # the agent fixture's phone
CODE = "*123#"
VOICE_NUMBER = "+22320000000"  # the number a test call is made to
# Debian's headless Chromium and its Selenium driver, for the tests in a real browser.
CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = ROOT / "var" / "test-artifacts"  # their screenshots

# Installing is for tests/browser-setup.sh, run before pytest: a test never installs anything.
needs_chromium = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
    reason=f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {DRIVER}): "
    "run tests/browser-setup.sh (as root) to install them",
)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """Return the URL of a real Redis: TEST_REDIS_URL, or one started here."""
    if os.environ.get("TEST_REDIS_URL"):
        yield os.environ["TEST_REDIS_URL"]
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis")).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """Return the URL of a migrated database that only this test run uses."""
    # A file of its own, or a database of our own on the shared server, dropped at the end.
    base = os.environ.get("TEST_DATABASE_URL") or "sqlite://"
    with another_database(base, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def no_recordings(tmp_path_factory):
    """An audio folder with no recordings: a checkout's built prompts must not change a test."""
    return str(tmp_path_factory.mktemp("no-recordings"))


@pytest.fixture
def make_app(redis_url, database_url, no_recordings):
    """Return a factory of apps on the test services; clean up what they wrote."""
    prefix = f"kalan-test:{uuid.uuid4().hex[:12]}:"
    apps = []

    def factory(**overrides):
        config = {
            "TESTING": True,
            "REDIS_URL": redis_url,
            "DATABASE_URL": database_url,
            "REDIS_PREFIX": prefix,
            "WEBHOOK_TOKEN": "",
            "USSD_CODE": CODE,
            "AUDIO_DIR": no_recordings,
            **overrides,
        }
        app = create_app(config)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["engine"].dispose()
        app.extensions["read_engine"].dispose()  # the same engine, unless a replica was set
        app.extensions["redis"].close()
    redis = Redis.from_url(redis_url)
    # Our keys, and RQ's for our queues and jobs (their names carry the prefix).
    for pattern in (prefix + "*", f"rq:*{prefix}*", f"rq:*{prefix.replace(':', '-')}*"):
        keys = list(redis.scan_iter(match=pattern, count=1000))
        if keys:
            redis.delete(*keys)
    ours = [q for q in redis.smembers("rq:queues") if prefix.encode() in q]
    if ours:
        redis.srem("rq:queues", *ours)
    redis.close()
    empty(database_url)


@pytest.fixture
def app(make_app):
    """Create a Kalan app for one test."""
    return make_app()


@pytest.fixture
def agent(app):
    """An imported agent who has already chosen French; return their phone."""
    with app.extensions["db"]() as db:
        db.add(Contact(phone=AGENT, role="agent", organisation="RMCR", language="fr",
                       name="Awa", created_at=utcnow()))  # fmt: skip
        db.commit()
    return AGENT


@pytest.fixture
def client(app):
    """A test client for the app."""
    return app.test_client()


class Runner:
    """Invoke the `kalan` command line against one app, like flaskr's runner."""

    def __init__(self, app):
        self.app = app

    def invoke(self, args, **kwargs):
        """Run `kalan ARGS` with this app loaded; return click's Result."""
        info = ScriptInfo(create_app=lambda: self.app)
        return CliRunner().invoke(main, args, obj=info, **kwargs)


@pytest.fixture
def runner(app):
    """A CLI runner bound to the app."""
    return Runner(app)


class Dial:
    """Replay a USSD conversation the way Africa's Talking sends it."""

    def __init__(self, client, phone=PHONE, code=CODE, token=""):
        self.client = client
        self.phone = phone
        self.code = code
        self.token = token
        self.session_id = None
        self.inputs: list[str] = []
        self.response = None

    def __call__(self, *inputs: str) -> str:
        """Send each input (opening a session first if needed); return the last reply."""
        if self.session_id is None:
            self.session_id = "ATUid_" + uuid.uuid4().hex
            self.inputs = []
            reply = self.post("")
        for value in inputs:
            self.inputs.append(value)
            reply = self.post("*".join(self.inputs))
        return reply

    def post(self, text: str, **fields) -> str:
        """Post one hop with this cumulative text; return the body."""
        form = {
            "phoneNumber": self.phone,
            "serviceCode": self.code,
            "text": text,
            "sessionId": self.session_id,
            "networkCode": "99999",
            **fields,
        }
        query = f"?token={self.token}" if self.token else ""
        self.response = self.client.post("/ussd" + query, data=form)
        assert self.response.status_code == 200, self.response.get_data(as_text=True)
        return self.response.get_data(as_text=True)

    def drop(self) -> None:
        """Lose the session as a network timeout would: no END, no goodbye."""
        self.session_id = None


class Http:
    """A test client's post() and get() over real HTTP, to a served app (see serve)."""

    def __init__(self, base_url: str):
        self.base_url = base_url

    def post(self, url: str, data: dict) -> "HttpAnswer":
        """Post a form to url (absolute, or a path on the served app)."""
        return HttpAnswer(requests.post(self._absolute(url), data=data, timeout=10))

    def get(self, url: str, headers: dict | None = None) -> "HttpAnswer":
        """Get url (absolute, or a path on the served app)."""
        return HttpAnswer(requests.get(self._absolute(url), headers=headers, timeout=10))

    def _absolute(self, url: str) -> str:
        return url if url.startswith("http") else self.base_url + url


class HttpAnswer:
    """A requests response read as Flask's test responses are."""

    def __init__(self, response):
        self.status_code = response.status_code
        self.data = response.content
        self.headers = response.headers
        self.mimetype = response.headers.get("Content-Type", "").split(";")[0]

    def get_data(self, as_text: bool = False):
        return self.data.decode() if as_text else self.data


class Call:
    """Replay a voice call the way Africa's Talking makes it: follow the XML's own URLs."""

    def __init__(self, client, phone=PHONE, number=VOICE_NUMBER, token="", outbound=False):
        self.client = client
        self.phone = phone
        self.number = number
        self.token = token
        self.outbound = outbound
        self.session_id = None
        self.xml = None  # the last answer, parsed
        self.answers: list[str] = []  # every answer's body, in order

    def fields(self, **extra) -> dict:
        """Return the fields AT posts on every request of this call."""
        person, ours = (self.number, self.phone) if self.outbound else (self.phone, self.number)
        return {"sessionId": self.session_id, "isActive": "1",
                "direction": "Outbound" if self.outbound else "Inbound",
                "callerNumber": person, "destinationNumber": ours, **extra}  # fmt: skip

    def __call__(self, *keys: str) -> str:
        """Answer each prompt with keys (opening the call if need be); return the last words."""
        if self.session_id is None:
            self.session_id = "ATVId_" + uuid.uuid4().hex
            query = f"?token={self.token}" if self.token else ""
            self.post("/voice" + query)
        for key in keys:
            self.post(self.action("GetDigits").get("callbackUrl"), dtmfDigits=key)
        return self.words()

    def post(self, url: str, **fields) -> str:
        """Post one request of the call to url; keep and return the answer."""
        response = self.client.post(url, data=self.fields(**fields))
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_data(as_text=True)
        self.answers.append(body)
        self.xml = ElementTree.fromstring(body)
        return body

    def action(self, verb: str):
        """Return the answer's action of that verb; fail if it has none."""
        found = self.xml.find(verb)
        assert found is not None, f"no {verb} in {ElementTree.tostring(self.xml, 'unicode')}"
        return found

    def silence(self) -> str:
        """Let the prompt time out: AT runs the Redirect, with no keys."""
        self.post(self.action("Redirect").text)
        return self.words()

    def record(self, url: str | None) -> str:
        """Answer a Record prompt with a recording's URL (None: nothing recorded)."""
        extra = {"recordingUrl": url} if url else {}
        self.post(self.action("Record").get("callbackUrl"), **extra)
        return self.words()

    def hang_up(self, seconds: int = 42, amount: str = "21.0000") -> None:
        """Send the last request of the call, as AT does when it ends."""
        query = f"?token={self.token}" if self.token else ""
        response = self.client.post("/voice" + query, data=self.fields(
            isActive="0", durationInSeconds=str(seconds), currencyCode="XOF", amount=amount,
            hangupCause="NORMAL_CLEARING"))  # fmt: skip
        assert response.status_code == 200, response.get_data(as_text=True)
        self.session_id = None

    def words(self) -> str:
        """Return what the last answer says: its Say texts, joined."""
        return " ".join(" ".join(e.text.split()) for e in self.xml.iter("Say") if e.text)


@pytest.fixture
def dial(client):
    """Dial the app from the default test phone."""
    return Dial(client)


@contextlib.contextmanager
def serve(wsgi_app):
    """Serve a WSGI app over real HTTP on a free port; yield its base URL."""
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture
def live_server(app):
    """Serve the app over real HTTP on a free port; yield its base URL."""
    with serve(app) as url:
        yield url


class Sandbox:
    """The sandbox served over real HTTP, with helpers for what tests ask of it."""

    def __init__(self, url: str, app):
        self.url = url
        self.app = app

    def faults(self, **faults) -> None:
        """Replace the injected faults."""
        response = requests.post(self.url + "/sandbox/faults", json=faults, timeout=5)
        assert response.status_code == 200, response.text

    def messages(self, to: str | None = None) -> list[dict]:
        """Return what the sandbox received, for one phone or all."""
        params = {"to": to} if to else {}
        return requests.get(self.url + "/sandbox/messages", params=params, timeout=5).json()


@pytest.fixture
def sandbox():
    """Serve a fresh sandbox on a free port; Kalan's callbacks are set per test."""
    app = create_sandbox({"SANDBOX_DLR_DELAY_S": 0.05, "KALAN_URL": "http://127.0.0.1:1"})
    with serve(app) as url:
        yield Sandbox(url, app)
    app.extensions["sms_courier"].close()  # no callback outlives its test


@pytest.fixture(name="kalan")
def _kalan():
    """Serve a stand-in for Kalan's SMS callbacks on a free port; stop it after the test."""
    kalan = Kalan()
    thread = threading.Thread(target=kalan.server.serve_forever, args=(POLL_S,), daemon=True)
    thread.start()
    yield kalan
    kalan.server.shutdown()
    kalan.server.server_close()
    thread.join()


@pytest.fixture
def sms_app(make_app, sandbox):
    """A Kalan app whose SMS go to the sandbox, fast and at any hour."""
    return make_app(AT_API_BASE_URL=sandbox.url, SMS_RATE=1000, SMS_SEND_WINDOW="always")


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium, closed after the module."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking", "--disable-sync",
                 "--disable-component-update", "--window-size=1280,1000"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.implicitly_wait(5)
    ARTIFACTS.mkdir(mode=0o700, parents=True, exist_ok=True)
    yield driver
    driver.quit()


def shot(driver, name: str) -> None:
    """Keep a screenshot as a test artifact."""
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def pytest_collection_modifyitems(items):
    """Mark the fault suite: `make test` leaves it to `make test-faults`."""
    for item in items:
        if "/tests/faults/" in str(item.path):
            item.add_marker(pytest.mark.faults)


def phone_key(app, kind: str, phone: str) -> str:
    """Return the Redis key of a phone's resume point or profile: its hash under today's salt."""
    from app.infra import salt

    redis, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
    today, _ = salt.current(redis, prefix, app.config["TZ"])
    return f"{prefix}{kind}:{salt.caller(today, phone)}"
