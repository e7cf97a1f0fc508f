"""Helpers and constants that several test modules share: reports over the webhook, console sign-in,
what a test must never see (an apology screen, an ERROR line in the log), recordings served
over HTTP, and SMS routed per operator through the sandbox."""

import base64
import contextlib
import functools
import hashlib
import html
import http.server
import io
import logging
import re
import shutil
import threading
import time
import wave
from urllib.parse import urlencode

from argon2 import PasswordHasher
from sqlalchemy import event, text

from app.infra.db import make_engine

from .conftest import Dial

# -- secrets that are the same on every run -----------------------------------------------------


def fixed_token(name: str, nbytes: int) -> str:
    """Return a token as secrets.token_urlsafe(nbytes) makes one, the same at each collection:
    a parametrized test's name holds its values, and pytest-xdist's workers must agree."""
    raw = hashlib.shake_256(name.encode()).digest(nbytes)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def fixed_fernet_key(name: str) -> str:
    """Return a Fernet key as Fernet.generate_key() makes one, the same at each collection."""
    return base64.urlsafe_b64encode(hashlib.shake_256(name.encode()).digest(32)).decode()


# Copies of content/ leave out its recordings: no test reads them, and once built
# (make run, kalan audio build) they weigh tens of megabytes per copy.
NO_AUDIO = shutil.ignore_patterns("audio")

# -- reports over the webhook -------------------------------------------------------------------

REPORTER = "+22376000555"
# Written by the release that derived the key from SECRET_KEY ("old-production-secret").
LEGACY_SECRET = "old-production-secret"
LEGACY_TOKEN = (
    "gAAAAABrE60G_hpDhfcJzpF8hg0GDlLEX6CBIiprx8MWwyNF68Bplj2toe4ZJA9oV22VYL6GhPtj8fnklENQ7dKZS"
    "Yf9O3qWgg=="
)


# Mining, Sikasso/Kadiolo, a site name, 2-5 children, 13-14, girls, not in
# school, mercury: a danger that cannot be immediate, so no "Danger maintenant ?".
# Before it: "1" urgent then "1" past the emergency numbers, or "2".
def body(site: str = "Massiogo") -> list[str]:
    """Answers from the sector to the danger, about one site."""
    return ["1", "1", "2", site, "2", "2", "1", "2", "3"]


BODY = body()
URGENT = ["3", "1", *BODY]  # the urgent door, then past the emergency numbers
CALM = ["2", *BODY]  # Signaler, then the answers
# Who may call back: the options without an SMS come first.
CALL, ANONYMOUS, SMS = "1", "2", "3"


def report(client, *answers, contact=SMS, phone=REPORTER) -> tuple[Dial, str]:
    """Dial, go to Signaler, answer, and send; return the caller and the last screen."""
    caller = Dial(client, phone=phone)
    caller()  # a new caller: the main menu at once (one language)
    caller(*answers, contact)  # a door of the main menu, the answers, who may be called
    return caller, caller("1")  # Envoyer


# A reference drawn before references were digits only: letters that cannot be misread.
OLD_REFERENCE = "ACD479"
# What file_old_report files: an anonymous report about Fourou, in Kadiolo.
OLD_ANSWERS = {"urgent": False, "sector": "mining", "region": "sikasso", "cercle": "kadiolo",
               "place": "Fourou", "children": "few", "age": "13to14", "sex": "girls",
               "school": "no", "hazard": "mercury", "contactable": False,
               "receipt": False}  # fmt: skip


def file_old_report(app) -> None:
    """File an anonymous report under a reference of the letters-and-digits kind."""
    from app.cases import file_report
    from app.infra.models import utcnow

    catalog = app.extensions["catalog"]
    with app.app_context(), app.extensions["db"]() as db:
        file_report(db, app.config, catalog, REPORTER, OLD_REFERENCE, OLD_ANSWERS, utcnow())
        db.commit()


def file_reports(app, count: int, first: int = 300000, **answers) -> list[str]:
    """File count anonymous reports as file_old_report does, each about a site of its own
    (so none joins another), under references first, first + 1...; return them in order."""
    from app.cases import file_report
    from app.infra.models import utcnow

    catalog, references = app.extensions["catalog"], []
    with app.app_context(), app.extensions["db"]() as db:
        for n in range(count):
            reference = str(first + n)
            site = {**OLD_ANSWERS, "place": f"Site {reference}", **answers}
            file_report(db, app.config, catalog, REPORTER, reference, site, utcnow())
            references.append(reference)
        db.commit()
    return references


# -- the console --------------------------------------------------------------------------------

ADMIN, SUPERVISOR, VIEWER = "admin@kalan.ml", "superviseur@kalan.ml", "lecteur@kalan.ml"
PASSWORD = "mot-de-passe-solide"
ENGLISH = ("Internal Server Error", "Not Found", "Bad Request", "Forbidden", "Method Not Allowed",
           "Too Many Requests", "Unauthorized", "Traceback", "csrf")  # fmt: skip


def page(response) -> str:
    """Return a page's text with HTML entities read back (l&#39;agent is l'agent)."""
    return html.unescape(response.get_data(as_text=True))


def token_in(response) -> str:
    """Return the csrf_token hidden field of a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))
    assert found, "no csrf_token field"
    return found.group(1)


def visible(response) -> str:
    """Return what a page shows: its text without tags, styles or hidden fields."""
    text = re.sub(r"<style[^>]*>.*?</style>", " ", page(response), flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", text).split())


def assert_french(response) -> None:
    """A console page is in French and tells nothing in English, nor any traceback."""
    assert '<html lang="fr">' in page(response)
    shown = visible(response)
    for words in ENGLISH:
        assert words not in shown


class AuthActions:
    """Sign in and out of the console the way a browser does, token included."""

    def __init__(self, client):
        self.client = client

    def token(self, path="/console/login") -> str:
        """Open a page and return its CSRF token."""
        return token_in(self.client.get(path))

    def login(self, email=SUPERVISOR, password=PASSWORD, next=None):
        """Fill in and send the sign-in form; return the response (not followed)."""
        token = self.token()
        query = "?" + urlencode({"next": next}) if next is not None else ""
        form = {"email": email, "password": password, "csrf_token": token}
        return self.client.post("/console/login" + query, data=form)

    def logout(self):
        """Press Se déconnecter."""
        return self.client.post(
            "/console/logout", data={"csrf_token": self.token("/console/cases")}
        )

    def post(self, path, follow=True, **form):
        """Send a form of a case page, with the token that page carries."""
        token = self.token("/console/cases")
        return self.client.post(path, data={"csrf_token": token, **form}, follow_redirects=follow)


@functools.cache
def password_hash() -> str:
    """Hash the test password once: argon2 takes a fifth of a second each time, on purpose."""
    return PasswordHasher().hash(PASSWORD)


# -- what no test may see -----------------------------------------------------------------------

# The last screens of a hop that failed (content/fr/ussd.yaml): a bug, or storage down.
APOLOGIES = ("error.unexpected", "error.unavailable")


def apologies(app) -> list[str]:
    """Return the apology screens exactly as the app shows them."""
    from app.web.ussd import apology

    return [apology(app, key) for key in APOLOGIES]


def errors_logged(caplog) -> list[str]:
    """Return the ERROR (and worse) lines logged so far, any logger, with their exception."""
    return [
        f"{r.name}: {r.getMessage()}" + (f" {r.exc_info[1]!r}" if r.exc_info else "")
        for r in caplog.records
        if r.levelno >= logging.ERROR
    ]


# -- what another connection sees ---------------------------------------------------------------

WRITES = ("INSERT", "UPDATE", "DELETE", "WITH")


@contextlib.contextmanager
def seen_from_outside(engine, query: str):
    """Yield a list that gets, right after each write the engine runs, what query reads then
    from a connection of its own: a write committed on its own is already there."""
    # An engine of its own, so its reads are not writes of the engine watched, nor its pool's.
    outside = make_engine(engine.url.render_as_string(hide_password=False))
    seen = []

    def look(_conn, _cursor, statement, *_):
        if statement.lstrip().split(None, 1)[0].upper() in WRITES:
            with outside.connect() as conn:
                seen.append(conn.scalar(text(query)))

    event.listen(engine, "after_cursor_execute", look)
    try:
        yield seen
    finally:
        event.remove(engine, "after_cursor_execute", look)
        outside.dispose()


def race(engine, hold, target, timeout: float) -> None:
    """Run target("first") and target("second") in threads named so, with hold listening to
    every statement the engine runs (to pause one thread inside its transaction)."""
    event.listen(engine, "after_cursor_execute", hold)
    try:
        threads = [threading.Thread(target=target, args=(n,), name=n) for n in ("first", "second")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=timeout)
    finally:
        event.remove(engine, "after_cursor_execute", hold)


# -- recordings served over real HTTP -----------------------------------------------------------


def wav(frames: int = 1600) -> bytes:
    """Return a short WAV as telephony sends it: 8 kHz, mono, 16 bits (1600 frames: 0.2 s)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(bytes(range(256)) * (frames * 2 // 256) + b"\0" * (frames * 2 % 256))
    return out.getvalue()


class Media:
    """A tiny file server in a thread: each path answers what routes says, and hits counts."""

    def __init__(self):
        self.routes: dict[str, tuple] = {}  # path: (status, headers, body), or a callable
        self.hits: list[str] = []
        self.url = ""

    def serve(self, path: str, body: bytes, status: int = 200, **headers) -> str:
        """Answer path with body, typed audio/wav unless Content_Type says otherwise (chunked:
        with no length said); return its full URL."""
        headers = {name.replace("_", "-"): value for name, value in headers.items()}
        headers.setdefault("Content-Type", "audio/wav")
        self.routes[path] = (status, headers, body)
        return self.url + path


class _MediaHandler(http.server.BaseHTTPRequestHandler):
    media: Media

    def do_GET(self):  # noqa: N802  (http.server's name)
        try:
            self._answer()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the reader stopped early, as it should past the size cap

    def _answer(self):
        self.media.hits.append(self.path)
        route = self.media.routes.get(self.path, (404, {}, b""))
        if callable(route):
            route = route()
        status, headers, body = route
        self.send_response(status)
        headers = dict(headers)
        chunked = headers.pop("chunked", False)
        for name, value in headers.items():
            self.send_header(name, value)
        if chunked:  # no length said: the reader must count for itself
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(body), 65536):
                part = body[start : start + 65536]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet: pytest shows what matters
        pass


@contextlib.contextmanager
def media_server():
    """Serve recordings over real HTTP on a free port, as a provider would; yield a Media."""
    media = Media()
    handler = type("Handler", (_MediaHandler,), {"media": media, "protocol_version": "HTTP/1.1"})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    media.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield media
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def file_by_voice(app, url, reference: str = "400001", phone: str = REPORTER, **answers):
    """File an anonymous report as a call does, its site said aloud and kept at url (the
    place left blank); return the id of its recording, or None if none was kept."""
    from sqlalchemy import select

    from app.conversation.effects import apply_effects
    from app.infra.media import Recording
    from app.infra.models import Case, utcnow
    from flows.effects import OpenCase

    facts = {**OLD_ANSWERS, "place": None, "recording": url, **answers}
    effect = OpenCase(reference, tuple(facts.items()))
    services = app.extensions["conversation"]
    with app.app_context(), app.extensions["db"]() as db:
        apply_effects(services, db, [effect], phone, None, None, utcnow())
        query = select(Recording.id).join(Case, Case.id == Recording.case_id)
        return db.scalar(query.where(Case.reference == reference))


def fetch_now(app, recording_id: int) -> str:
    """Run the worker's fetch of one recording in this process, as a worker's job runs."""
    from workers import jobs

    with app.app_context():
        return jobs.fetch_recording(recording_id)


# -- SMS routed per operator through the sandbox ------------------------------------------------

ROUTES = "orange-ml=orange,infobip; moov-ml=infobip; *=africastalking"
ORANGE_SENDER = "+22344000000"


def routed_app(make_app, sandbox, **overrides):
    """Return a Kalan app routing SMS to Orange, Infobip and AT per operator, all three
    emulated by the one sandbox, fast and at any hour."""
    url = sandbox.url
    return make_app(AT_API_BASE_URL=url, ORANGE_API_BASE_URL=url, INFOBIP_BASE_URL=url,
                    ORANGE_CLIENT_ID="sandbox-client", ORANGE_CLIENT_SECRET="sandbox-secret",
                    ORANGE_SENDER=ORANGE_SENDER, INFOBIP_API_KEY="sandbox-key", SMS_ROUTES=ROUTES,
                    SMS_RATE=1000, SMS_SEND_WINDOW="always", **overrides)  # fmt: skip


def routed_sender(app, db, seconds=time.time, gateways=None):
    """Return a sender over the app's routes and settings whose circuits read seconds (a test's
    clock), and over gateways (default: the app's own)."""
    from app.messaging.circuit import Circuit
    from app.messaging.routing import Routing
    from app.messaging.sender import Sender
    from app.messaging.throttle import Throttle

    config, redis, prefix = app.config, app.extensions["redis"], app.config["REDIS_PREFIX"]
    circuit = Circuit(redis, prefix, window_s=config["SMS_CIRCUIT_WINDOW_S"],
                      failures_min=config["SMS_CIRCUIT_FAILURES"],
                      open_s=config["SMS_CIRCUIT_OPEN_S"], clock=seconds)  # fmt: skip
    routing = Routing(gateways or app.extensions["gateways"], config["SMS_ROUTES"],
                      config["SMS_PORTED"], circuit)  # fmt: skip
    throttle = Throttle(redis, prefix + "throttle:test", config["SMS_RATE"])
    return Sender(db, routing, lambda provider: throttle, config)


class FirstAcquire:
    """A sender's throttle that runs before() once, as the rate is first asked: the first
    batch's rows are then chosen (locked on PostgreSQL) and not yet started."""

    def __init__(self, throttle, before):
        self.throttle, self.before, self.burst = throttle, before, throttle.burst

    def try_acquire(self, n: int) -> float:
        if self.before:
            before, self.before = self.before, None
            before()
        return self.throttle.try_acquire(n)


def queue_text(app, db, phones, text: str, kind: str = "receipt", **fields) -> None:
    """Queue text to each phone (its own outbox row, keyed by the text) and commit."""
    from app.messaging import outbox

    for phone in phones:
        outbox.add(db, app.config, kind, text, phone, text, **fields)
    db.commit()


def carriers(sandbox, text: str) -> dict[str, str]:
    """Return which provider carried text to each phone, as the sandbox saw it."""
    return {m["to"]: m["provider"] for m in sandbox.messages() if m["message"] == text}


def write_behind(app) -> int:
    """Write the lessons' places and answers that hops queued in Redis to SQL, as the clock
    does between its beats (workers/progress.py); return how many entries it handled."""
    from app.training import behind

    redis, engine = app.extensions["redis"], app.extensions["engine"]
    return behind.drain(redis, app.config["REDIS_PREFIX"], engine, "tests")
