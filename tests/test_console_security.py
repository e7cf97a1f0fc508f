"""Console security: revocable sessions, sign-in limits under parallel tries, response headers."""

import html
import re
import threading
from datetime import UTC, datetime

import pytest
import requests
from argon2 import PasswordHasher
from sqlalchemy import select

from app.infra.models import User
from app.people import users

from .helpers import ADMIN, PASSWORD, SUPERVISOR, AuthActions, assert_french, page
from .helpers import password_hash as stored_hash

WRONG = "Adresse ou mot de passe incorrect."
LOCKED = "Trop d'essais. Réessayez dans 15 minutes."
SLOW = "Trop d'essais pour ce compte. Réessayez dans quelques secondes."


def add_staff(app) -> None:
    """An admin and a supervisor, stored directly with the shared test hash."""
    with app.extensions["db"]() as db:
        db.add(User(email=ADMIN, role="admin", scope=None, password_hash=stored_hash()))
        db.add(User(email=SUPERVISOR, role="supervisor", scope=None, password_hash=stored_hash()))
        db.commit()


@pytest.fixture
def staff(app):
    """The admin and the supervisor, in the default app."""
    add_staff(app)


def user(app, email=SUPERVISOR) -> User:
    """Return a user as stored now."""
    with app.extensions["db"]() as db:
        return db.scalars(select(User).where(User.email == email)).one()


# -- revocable sessions -------------------------------------------------------------------------


def signed_in_copy(app):
    """Sign in with one client; return it and a replay of its Cookie header by a fresh client."""
    browser = AuthActions(app.test_client())
    assert browser.login().status_code == 302
    header = f"kalan_console={browser.client.get_cookie('kalan_console').value}"
    thief = app.test_client(use_cookies=False)  # sends exactly the copied header, every time

    def replay(path="/console/cases"):
        return thief.get(path, headers={"Cookie": header})

    assert replay().status_code == 200  # the copy works, until...
    return browser, replay


def test_a_copied_cookie_dies_when_its_owner_signs_out(app, staff):
    """Signing out ends the session everywhere: a copy of the cookie is signed out too."""
    browser, thief = signed_in_copy(app)
    assert browser.logout().status_code == 302
    response = thief()
    assert response.status_code == 302 and response.headers["Location"].startswith("/console/login")
    assert user(app).session_version == 1


def test_signing_in_elsewhere_leaves_other_sessions_alone(app, staff):
    """A second sign-in (another browser) does not sign the first one out."""
    browser, _ = signed_in_copy(app)
    assert AuthActions(app.test_client()).login().status_code == 302
    assert browser.client.get("/console/cases").status_code == 200


def test_a_copied_cookie_dies_when_the_password_changes(app, runner, staff):
    """`users add` with a new password signs every session of that user out."""
    _, thief = signed_in_copy(app)
    args = ["users", "add", SUPERVISOR, "--role", "supervisor", "--password-stdin"]
    assert runner.invoke(args, input="un-tout-nouveau-secret\n").exit_code == 0
    assert thief().status_code == 302
    assert AuthActions(app.test_client()).login().status_code == 401  # the old password too


def test_disabling_signs_out_refuses_sign_in_and_enabling_lets_in_again(app, runner, staff):
    """`users disable` kills the sessions and sign-in (same French line as a wrong password);
    `users enable` lets the user sign in again, but never revives an old cookie."""
    _, thief = signed_in_copy(app)
    result = runner.invoke(["users", "disable", SUPERVISOR.upper()])
    assert result.exit_code == 0, result.output
    assert result.output == f"disabled {SUPERVISOR}: signed out everywhere\n"
    assert thief().status_code == 302
    refused = AuthActions(app.test_client()).login()
    assert refused.status_code == 401 and WRONG in page(refused)
    assert_french(refused)
    assert user(app).disabled_at is not None
    result = runner.invoke(["users", "enable", SUPERVISOR])
    assert result.exit_code == 0 and result.output == f"enabled {SUPERVISOR}\n"
    assert user(app).disabled_at is None
    assert thief().status_code == 302
    assert AuthActions(app.test_client()).login().status_code == 302


def test_a_user_disabled_in_the_database_is_signed_out_at_the_next_page(app, staff):
    """The disabled date alone, without a new version, ends a session."""
    _, thief = signed_in_copy(app)
    with app.extensions["db"]() as db:
        db.scalars(select(User).where(User.email == SUPERVISOR)).one().disabled_at = datetime.now(
            UTC
        )
        db.commit()
    assert thief().status_code == 302


def test_a_disabled_user_cannot_authenticate(app, staff):
    """authenticate refuses a disabled user's right password and records no sign-in."""
    with app.extensions["db"]() as db:
        assert users.disable(db, SUPERVISOR, datetime(2025, 3, 1, tzinfo=UTC)) is not None
        db.commit()
        assert users.authenticate(db, SUPERVISOR, PASSWORD, datetime.now(UTC)) is None
    assert user(app).last_login_at is None


@pytest.mark.parametrize("command", ["disable", "enable"])
def test_disabling_or_enabling_nobody_is_an_error(app, runner, staff, command):
    """An unknown email is said plainly, exits 1, and changes nobody."""
    result = runner.invoke(["users", command, "nobody@kalan.ml"])
    assert result.exit_code == 1
    assert "error: no user nobody@kalan.ml" in result.output
    assert user(app).session_version == 0 and user(app).disabled_at is None


def test_the_list_shows_who_is_disabled(app, runner, staff):
    """`users list` marks a disabled user, with the date; the others are as before."""
    assert runner.invoke(["users", "disable", SUPERVISOR]).exit_code == 0
    lines = runner.invoke(["users", "list"]).output.splitlines()
    assert lines[0].split() == [ADMIN, "admin", "everywhere", "never"]
    today = f"{datetime.now(UTC):%Y-%m-%d}"
    assert lines[1].split() == [SUPERVISOR, "supervisor", "everywhere", "never",
                                "disabled", "since", today]  # fmt: skip


# -- sign-in limits -----------------------------------------------------------------------------


@pytest.fixture
def verifications(monkeypatch):
    """Count the passwords argon2 checks (the library's verify, passed through unchanged)."""
    count = {"n": 0}
    lock = threading.Lock()
    verify = PasswordHasher.verify

    def counted(hasher, hash_, password):
        with lock:
            count["n"] += 1
        return verify(hasher, hash_, password)

    monkeypatch.setattr(PasswordHasher, "verify", counted)
    return count


def test_parallel_wrong_tries_check_no_more_passwords_than_allowed(
    app, staff, live_server, verifications
):
    """Twelve wrong tries at once over real HTTP: at most 5 reach argon2, the rest get 429,
    and the right password from the same address is refused after them."""
    browsers, tokens = [], []
    for _ in range(12):
        browser = requests.Session()
        body = browser.get(live_server + "/console/login", timeout=10).text
        tokens.append(re.search(r'name="csrf_token" value="([^"]+)"', body).group(1))
        browsers.append(browser)
    start, statuses = threading.Barrier(12), []

    def guess(browser, token):
        start.wait()
        form = {"email": SUPERVISOR, "password": "mauvais-mot-de-passe", "csrf_token": token}
        answer = browser.post(live_server + "/console/login", data=form, timeout=60)
        statuses.append(answer.status_code)

    threads = [
        threading.Thread(target=guess, args=pair) for pair in zip(browsers, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [401] * 5 + [429] * 7
    assert verifications["n"] == 5
    form = {"email": SUPERVISOR, "password": PASSWORD, "csrf_token": tokens[0]}
    late = browsers[0].post(live_server + "/console/login", data=form, timeout=10)
    assert late.status_code == 429 and LOCKED in html.unescape(late.text)
    assert verifications["n"] == 5


@pytest.fixture
def routed(make_app):
    """An app behind one router, and sign-in helpers for a client at a given address."""
    app = make_app(PROXY_HOPS="1")
    add_staff(app)

    def client_at(address: str) -> AuthActions:
        client = app.test_client()
        client.environ_base["HTTP_X_FORWARDED_FOR"] = address
        return AuthActions(client)

    return client_at


def test_failures_from_one_address_do_not_lock_the_owner_elsewhere(routed):
    """Five failures lock the (email, address) pair only: the owner signs in from home."""
    stranger = routed("198.51.100.7")
    for _ in range(5):
        assert stranger.login(SUPERVISOR, "mauvais-mot-de-passe").status_code == 401
    assert stranger.login(SUPERVISOR).status_code == 429
    assert routed("203.0.113.9").login(SUPERVISOR).status_code == 302


def test_past_the_account_cap_strangers_slow_down_and_the_owner_still_gets_in(routed):
    """Twenty failures from many addresses: a further try takes the account's token for 10 s;
    a stranger right after waits, and the owner's usual address is never held back."""
    home = routed("203.0.113.9")
    assert home.login(SUPERVISOR).status_code == 302
    assert home.logout().status_code == 302
    for n in range(5):
        stranger = routed(f"198.51.100.{n + 1}")
        for _ in range(4):
            assert stranger.login(SUPERVISOR, "mauvais-mot-de-passe").status_code == 401
    # The next try, even from a new address, gets the free token: the owner travelling.
    assert routed("192.0.2.50").login(SUPERVISOR).status_code == 302
    slowed = routed("198.51.100.99").login(SUPERVISOR, "mauvais-mot-de-passe")
    assert slowed.status_code == 429 and SLOW in page(slowed)
    assert_french(slowed)
    assert home.login(SUPERVISOR).status_code == 302
    assert routed("192.0.2.51").login(ADMIN).status_code == 302  # other accounts are untouched


# -- response headers ---------------------------------------------------------------------------

CONSOLE_PAGES = ["/console/login", "/console/dashboard", "/console/cases",
                 "/console/cases/export.csv", "/console/campaigns/new", "/console/content",
                 "/console/cases/NOPE00", "/console/nope"]  # fmt: skip


def policy(response) -> dict[str, str]:
    """Return the Content-Security-Policy as {directive: sources}."""
    parts = (
        p.strip().partition(" ") for p in response.headers["Content-Security-Policy"].split(";")
    )
    return {name: sources for name, _, sources in parts}


@pytest.mark.parametrize("path", CONSOLE_PAGES)
def test_every_console_response_has_strict_headers(app, client, staff, path):
    """Pages, the export and error pages: a strict policy, no sniffing, no referrer, no cache."""
    AuthActions(client).login(ADMIN)
    response = client.get(path)
    rules = policy(response)
    assert rules["default-src"] == "'self'"
    assert rules["frame-ancestors"] == "'none'"
    assert rules["object-src"] == "'none'" and rules["base-uri"] == "'none'"
    assert "unsafe-inline" not in rules["script-src"] + rules["style-src"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers


def test_production_adds_hsts(make_app):
    """Only production, behind HTTPS, tells browsers to keep to HTTPS."""
    app = make_app(APP_ENV="production", SECRET_KEY="x" * 32, WEBHOOK_TOKEN="t")
    response = app.test_client().get("/console/login")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.parametrize("path", ["/console/login", "/console/campaigns/new"])
def test_inline_scripts_and_styles_carry_this_responses_nonce(app, client, staff, path):
    """Every inline <script> and <style> has the nonce of its own response, and nothing runs
    from an attribute: the pages keep working under the policy."""
    auth = AuthActions(client)
    auth.login(ADMIN)
    first, second = client.get(path), client.get(path)
    nonces = []
    for response in (first, second):
        body = response.get_data(as_text=True)
        (nonce,) = set(re.findall(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]))
        tags = re.findall(r"<(?:script|style)\b[^>]*>", body)
        assert tags and all(tag.endswith(f' nonce="{nonce}">') for tag in tags)
        assert not re.search(r"\son[a-z]+=|javascript:", body)
        nonces.append(nonce)
    assert nonces[0] != nonces[1] and len(nonces[0]) >= 16
    if path.endswith("/new"):
        assert "<script" in first.get_data(as_text=True)


def test_markup_from_a_value_gets_no_nonce(app, client, staff):
    """A script typed into a form comes back escaped, without a nonce."""
    AuthActions(client).login(ADMIN)
    response = client.get("/console/content?group=<script>x</script>")
    assert "<script>x" not in response.get_data(as_text=True)
    assert response.get_data(as_text=True).count("<script") == 0


def test_the_ussd_webhook_stays_plain(app, client):
    """Gateways read the webhook, not browsers: it carries no console policy."""
    response = client.post("/ussd", data={"phoneNumber": "+22370000099", "serviceCode": "*123#",
                                          "text": "", "sessionId": "ATUid_sec"})  # fmt: skip
    assert response.status_code == 200
    assert "Content-Security-Policy" not in response.headers
