"""Signing in to the console: CSRF, redirects, cookies, lock-outs, audit."""

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from app.infra.models import AuditEntry, User

from ..helpers import (
    ADMIN,
    PASSWORD,
    SUPERVISOR,
    AuthActions,
    assert_french,
    page,
    password_hash,
    token_in,
)


@pytest.mark.parametrize(
    "path",
    [
        "/console/",
        "/console/cases",
        "/console/cases?status=new&urgent=1",
        "/console/cases/ABCDEF",
        "/console/cases/export.csv",
    ],
)
def test_anonymous_visitors_are_sent_to_sign_in(app, client, path):
    """Every console page asks for sign-in first, remembering where the visitor was going."""
    response = client.get(path)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/console/login"
    (target,) = parse_qs(location.query)["next"]
    assert target.rstrip("?") == path


def test_the_sign_in_page_is_french_with_a_csrf_field(app, client):
    """The sign-in page asks for the address and password in French, with a hidden token."""
    response = client.get("/console/login")
    assert response.status_code == 200
    assert_french(response)
    text = page(response)
    for words in ("Connexion", "Adresse e-mail", "Mot de passe", "Se connecter"):
        assert words in text
    assert '<input type="hidden" name="csrf_token"' in text
    assert len(token_in(response)) >= 32
    assert "Se déconnecter" not in text  # nobody is signed in


@pytest.mark.parametrize(
    ("email", "password"),
    [
        (SUPERVISOR, "pas-le-bon-mot-de-passe"),
        (SUPERVISOR, ""),
        (SUPERVISOR, PASSWORD.upper()),
        ("inconnu@kalan.ml", PASSWORD),
        ("", ""),
    ],
)
def test_a_wrong_sign_in_is_refused_in_french(app, client, auth, staff, email, password):
    """A wrong password or an unknown address gets 401, the same French line, and no session."""
    response = auth.login(email, password)
    assert response.status_code == 401
    assert_french(response)
    assert "Adresse ou mot de passe incorrect." in page(response)
    assert client.get("/console/cases").status_code == 302


@pytest.mark.parametrize("token", [None, "", "forged-token-0000000000000000000000", "other"])
def test_a_form_without_this_sessions_token_is_refused(app, client, staff, token):
    """A sign-in posted without the session's CSRF token is a French 400, and signs nobody in."""
    client.get("/console/login")  # this browser has a session, and a token of its own
    if token == "other":
        token = token_in(app.test_client().get("/console/login"))  # another browser's
    form = {"email": SUPERVISOR, "password": PASSWORD}
    if token is not None:
        form["csrf_token"] = token
    response = client.post("/console/login", data=form)
    assert response.status_code == 400
    assert_french(response)
    assert "Demande invalide. Rechargez la page et réessayez." in page(response)
    assert client.get("/console/cases").status_code == 302
    with app.extensions["db"]() as db:
        assert db.scalars(select(AuditEntry)).all() == []


def test_signing_in_opens_the_cases(app, client, auth, staff):
    """The right password leads to /console/, a console page, and the list, in a fresh session."""
    before = auth.token()
    response = auth.login(SUPERVISOR.upper())  # the address, whatever its case
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/"
    home = client.get("/console/", follow_redirects=True)
    assert home.status_code == 200 and home.request.path.startswith("/console/")
    assert_french(home)
    listing = client.get("/console/cases")
    assert listing.status_code == 200
    assert_french(listing)
    assert f"Connecté : {SUPERVISOR} (superviseur)" in page(listing)
    assert "Aucun dossier." in page(listing)
    assert token_in(listing) != before  # nothing from before sign-in carries over


@pytest.mark.parametrize(
    ("next", "location"),
    [
        ("/console/cases?status=new", "/console/cases?status=new"),
        ("/console/cases/ABCDEF?", "/console/cases/ABCDEF"),
        ("https://evil.example/console/", "/console/"),
        ("//evil.example/console/", "/console/"),
        ("///evil.example", "/console/"),
        ("/health", "/console/"),
        ("javascript:alert(1)", "/console/"),
        ("", "/console/"),
    ],
)
def test_next_is_followed_only_within_the_console(app, client, auth, staff, next, location):
    """After sign-in, `next` is honoured for console paths; anything else goes to /console/."""
    response = auth.login(next=next)
    assert response.status_code == 302
    assert response.headers["Location"] == location


def test_a_sign_in_from_a_redirect_returns_to_the_page_asked_for(app, client, auth, staff, filed):
    """Following the redirect of an anonymous visit, signing in lands on the page first asked."""
    wanted = f"/console/cases/{filed['kadiolo']}"
    to_login = client.get(wanted).headers["Location"]
    token = auth.token()
    form = {"email": SUPERVISOR, "password": PASSWORD, "csrf_token": token}
    response = client.post(to_login, data=form, follow_redirects=True)
    assert response.status_code == 200
    assert response.request.path == wanted
    assert f"Dossier {filed['kadiolo']}" in page(response)


def cookie_of(response) -> str:
    """Return the Set-Cookie header of the console session."""
    (cookie,) = [
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("kalan_console=")
    ]
    return cookie


@pytest.mark.parametrize(("env", "secure"), [("development", False), ("production", True)])
def test_the_session_cookie_is_http_only_lax_and_secure_in_production(make_app, env, secure):
    """Scripts cannot read the cookie, other sites do not get it, and production needs HTTPS."""
    settings = {"SECRET_KEY": "x" * 32, "WEBHOOK_TOKEN": "t"} if env == "production" else {}
    client = make_app(APP_ENV=env, **settings).test_client()
    cookie = cookie_of(client.get("/console/login"))
    flags = [part.strip() for part in cookie.split(";")]
    assert "HttpOnly" in flags and "SameSite=Lax" in flags
    assert ("Secure" in flags) is secure


def test_the_cookie_set_at_sign_in_keeps_its_flags(app, client, auth, staff):
    """The signed-in session's cookie is HttpOnly and SameSite=Lax too, and expires."""
    flags = [part.strip() for part in cookie_of(auth.login()).split(";")]
    assert "HttpOnly" in flags and "SameSite=Lax" in flags
    assert any(flag.startswith("Expires=") for flag in flags)


def test_five_failed_sign_ins_lock_the_address_out(app, client, auth, staff):
    """After 5 wrong passwords for one email, even the right one gets 429 for a while."""
    for _ in range(5):
        assert auth.login(SUPERVISOR, "toujours-pas-le-bon").status_code == 401
    locked = auth.login(SUPERVISOR, PASSWORD)
    assert locked.status_code == 429
    assert_french(locked)
    assert "Trop d'essais" in page(locked)
    assert client.get("/console/cases").status_code == 302
    # The lock is for that address: a colleague still signs in from the same place.
    assert auth.login(ADMIN).status_code == 302
    assert client.get("/console/cases").status_code == 200


def test_many_failed_sign_ins_from_one_address_lock_it_out(app, client, auth, staff):
    """Twenty failures from one address, whatever the emails, stop sign-ins from there."""
    for n in range(20):
        assert auth.login(f"essai{n}@kalan.ml", "mauvais-mot-de-passe").status_code == 401
    locked = auth.login(ADMIN)
    assert locked.status_code == 429 and "Trop d'essais" in page(locked)
    assert client.get("/console/cases").status_code == 302


def test_behind_a_router_each_client_address_counts_alone(make_app):
    """With PROXY_HOPS=1 the limit follows X-Forwarded-For: one client's failures do not
    lock out another who comes through the same router."""
    app = make_app(PROXY_HOPS="1")
    with app.extensions["db"]() as db:
        db.add(User(email=ADMIN, role="admin", scope=None, password_hash=password_hash()))
        db.commit()

    def client_at(address: str) -> AuthActions:
        client = app.test_client()
        client.environ_base["HTTP_X_FORWARDED_FOR"] = address
        return AuthActions(client)

    guesser = client_at("198.51.100.7")
    for n in range(20):
        assert guesser.login(f"essai{n}@kalan.ml", "mauvais-mot-de-passe").status_code == 401
    assert guesser.login(ADMIN).status_code == 429
    assert client_at("203.0.113.9").login(ADMIN).status_code == 302


def test_a_successful_sign_in_forgets_earlier_failures(app, client, auth, staff):
    """Failures before a good sign-in do not add up with later ones."""
    for _ in range(4):
        assert auth.login(SUPERVISOR, "mauvais-mot-de-passe").status_code == 401
    assert auth.login(SUPERVISOR).status_code == 302
    for _ in range(4):
        assert auth.login(SUPERVISOR, "mauvais-mot-de-passe").status_code == 401
    assert auth.login(SUPERVISOR).status_code == 302


def test_signing_out_clears_the_session(app, client, auth, staff):
    """Se déconnecter, with the token, ends the session; without it, nothing happens."""
    assert auth.login().status_code == 302
    assert client.post("/console/logout").status_code == 400
    assert client.get("/console/cases").status_code == 200  # still signed in
    response = auth.logout()
    assert response.status_code == 302 and response.headers["Location"] == "/console/login"
    assert client.get("/console/cases").status_code == 302


def test_sign_in_views_and_exports_are_audited(app, client, auth, staff, filed):
    """The audit log keeps who signed in, which case they opened and what they exported."""
    assert auth.login().status_code == 302
    assert client.get(f"/console/cases/{filed['kadiolo'].lower()}").status_code == 200
    assert client.get("/console/cases/export.csv").status_code == 200
    with app.extensions["db"]() as db:
        entries = db.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.actor, e.action, e.target) for e in entries] == [
        (SUPERVISOR, "login", None),
        (SUPERVISOR, "case.view", filed["kadiolo"]),
        (SUPERVISOR, "cases.export", "2 cases"),
    ]
    assert all(e.at is not None for e in entries)


def test_a_failed_sign_in_is_not_audited_as_one(app, client, auth, staff):
    """Only a successful sign-in is logged."""
    auth.login(SUPERVISOR, "pas-le-bon-mot-de-passe")
    with app.extensions["db"]() as db:
        assert db.scalars(select(AuditEntry)).all() == []
