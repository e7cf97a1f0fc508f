"""The web console: sign-in, CSRF, roles and scopes, moving cases, the audit log, the export."""

import csv
import functools
import html
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from app import cases
from app.infra.models import AuditEntry, Case, CaseEvent, Message, User
from app.people import users

from .test_cases import body, report

ADMIN, SUPERVISOR, VIEWER = "admin@kalan.ml", "superviseur@kalan.ml", "lecteur@kalan.ml"
PASSWORD = "mot-de-passe-solide"
STAFF = {
    ADMIN: ("admin", None),
    SUPERVISOR: ("supervisor", "cercle=kadiolo"),
    VIEWER: ("viewer", "region=koutiala"),
}
CONTACTABLE = "+22376000701"  # reported the calm Kadiolo case and may be called back
ENGLISH = ("Internal Server Error", "Not Found", "Bad Request", "Forbidden", "Method Not Allowed",
           "Too Many Requests", "Unauthorized", "Traceback", "csrf")  # fmt: skip
REFUSED = "Ce changement n'est pas possible depuis l'état actuel."


def page(response) -> str:
    """Return a page's text with HTML entities read back (l&#39;agent is l'agent)."""
    return html.unescape(response.get_data(as_text=True))


def token_in(response) -> str:
    """Return the csrf_token hidden field of a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))
    assert found, "no csrf_token field"
    return found.group(1)


def listed(response) -> set[str]:
    """Return the references a cases page links to."""
    return set(re.findall(r'href="/console/cases/([A-Z0-9]{6})"', response.get_data(as_text=True)))


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


@pytest.fixture
def auth(client):
    """Sign-in helpers bound to the test client."""
    return AuthActions(client)


@functools.cache
def password_hash() -> str:
    """Hash the test password once: argon2 takes a fifth of a second each time, on purpose."""
    return PasswordHasher().hash(PASSWORD)


@pytest.fixture
def staff(app):
    """An admin, a supervisor of Kadiolo, and a viewer of the Koutiala region.

    Stored directly with one shared hash (`users add` itself is tested in test_users.py).
    """
    with app.extensions["db"]() as db:
        for email, (role, scope) in STAFF.items():
            scope = users.parse_scope(scope)
            db.add(User(email=email, role=role, scope=scope, password_hash=password_hash()))
        db.commit()
    return STAFF


def reference_of(done: str) -> str:
    return done.split("Référence : ")[1][:6]


@pytest.fixture
def filed(client):
    """Three cases from the webhook: two in Kadiolo (one urgent), one in Koutiala."""
    _, calm = report(client, "2", *body("Massiogo"), contact="1", phone=CONTACTABLE)
    _, urgent = report(client, "3", "1", *body("Kalana"), contact="3", phone="+22376000702")
    # Signaler, mining, region 3 (Koutiala), its first cercle (Koutiala), then the rest.
    koutiala = ["2", "1", "3", "1", "Zanfina", "2", "2", "1", "2", "1"]
    _, elsewhere = report(client, *koutiala, contact="3", phone="+22376000703")
    refs = {
        "kadiolo": reference_of(calm),
        "urgent": reference_of(urgent),
        "koutiala": reference_of(elsewhere),
    }
    assert len(set(refs.values())) == 3
    return refs


def case_of(app, reference: str) -> tuple[Case, list[CaseEvent]]:
    """Return a case as stored, with its timeline."""
    with app.extensions["db"]() as db:
        case = db.scalars(select(Case).where(Case.reference == reference)).one()
        events = list(
            db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
        )
    return case, events


# -- signing in ---------------------------------------------------------------------------------


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


# -- who sees what ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "visible"),
    [
        (ADMIN, {"kadiolo", "urgent", "koutiala"}),
        (SUPERVISOR, {"kadiolo", "urgent"}),
        (VIEWER, {"koutiala"}),
    ],
)
def test_each_role_sees_the_cases_of_its_scope(app, client, auth, staff, filed, email, visible):
    """The list and the case pages show a user only the cases of their cercle or region."""
    assert auth.login(email).status_code == 302
    listing = client.get("/console/cases")
    assert listing.status_code == 200
    assert listed(listing) == {filed[name] for name in visible}
    for name, reference in filed.items():
        shown = client.get(f"/console/cases/{reference}")
        if name in visible:
            assert shown.status_code == 200
            assert f"Dossier {reference}" in page(shown)
        else:
            # Not 403: whether the case exists is not told.
            assert shown.status_code == 404
            assert_french(shown)
            assert "Page ou dossier introuvable." in page(shown)


@pytest.mark.parametrize(
    ("action", "form"),
    [
        ("move", {"status": "verifying", "note": "je passe"}),
        ("assign", {"phone": "70000001"}),
        ("note", {"note": "je regarde"}),
    ],
)
def test_a_scoped_supervisor_cannot_act_on_another_cercle(
    app, client, auth, staff, filed, action, form
):
    """Posting on a case outside the supervisor's cercle is a 404 and changes nothing."""
    assert auth.login().status_code == 302
    reference = filed["koutiala"]
    _, before = case_of(app, reference)
    response = auth.post(f"/console/cases/{reference}/{action}", follow=False, **form)
    assert response.status_code == 404
    assert_french(response)
    case, after = case_of(app, reference)
    assert (case.status, case.assignee, len(after)) == ("new", None, len(before))
    with app.extensions["db"]() as db:
        assert db.scalars(select(Message).where(Message.kind == "case_assigned")).all() == []


@pytest.mark.parametrize(
    ("action", "form"),
    [
        ("move", {"status": "verifying", "note": ""}),
        ("assign", {"phone": "70000001"}),
        ("note", {"note": "je regarde"}),
    ],
)
def test_a_viewer_may_read_but_not_act(app, client, auth, staff, filed, action, form):
    """A viewer sees the case without forms, and posting an action anyway is a French 403."""
    assert auth.login(VIEWER).status_code == 302
    reference = filed["koutiala"]
    shown = page(client.get(f"/console/cases/{reference}"))
    assert "Historique" in shown
    for verb in ("move", "assign", "note"):
        assert f"/console/cases/{reference}/{verb}" not in shown
    assert "Exporter en CSV" not in page(client.get("/console/cases"))
    _, before = case_of(app, reference)
    response = auth.post(f"/console/cases/{reference}/{action}", follow=False, **form)
    assert response.status_code == 403
    assert_french(response)
    assert "Vous n'avez pas accès à cette page." in page(response)
    case, after = case_of(app, reference)
    assert (case.status, case.assignee, len(after)) == ("new", None, len(before))


def test_a_new_role_applies_at_the_next_page(app, client, auth, staff, filed):
    """The role is read at each request: a supervisor made viewer loses the actions at once."""
    assert auth.login().status_code == 302
    reference = filed["kadiolo"]
    assert f"/console/cases/{reference}/move" in page(client.get(f"/console/cases/{reference}"))
    with app.extensions["db"]() as db:
        db.scalars(select(User).where(User.email == SUPERVISOR)).one().role = "viewer"
        db.commit()
    assert f"/console/cases/{reference}/move" not in page(client.get(f"/console/cases/{reference}"))
    response = auth.post(f"/console/cases/{reference}/move", follow=False, status="verifying")
    assert response.status_code == 403
    assert case_of(app, reference)[0].status == "new"


def test_users_add_signs_out_and_the_new_role_applies(app, client, auth, runner, staff, filed):
    """`users add` sets a password, which ends the session; the next sign-in has the new role."""
    assert auth.login().status_code == 302
    reference = filed["kadiolo"]
    args = ["users", "add", SUPERVISOR, "--role", "viewer", "--scope", "cercle=kadiolo"]
    assert runner.invoke([*args, "--password-stdin"], input=PASSWORD + "\n").exit_code == 0
    assert client.get(f"/console/cases/{reference}").status_code == 302
    assert auth.login().status_code == 302
    assert f"/console/cases/{reference}/move" not in page(client.get(f"/console/cases/{reference}"))


def test_a_viewer_cannot_export(app, client, auth, staff, filed):
    """The CSV export is for supervisors and admins: a viewer gets a French 403."""
    assert auth.login(VIEWER).status_code == 302
    response = client.get("/console/cases/export.csv")
    assert response.status_code == 403
    assert_french(response)
    with app.extensions["db"]() as db:
        actions = [e.action for e in db.scalars(select(AuditEntry))]
    assert "cases.export" not in actions


# -- acting on a case ---------------------------------------------------------------------------


@pytest.mark.parametrize("email", [SUPERVISOR, ADMIN])
def test_moving_a_case_through_the_cycle(app, client, auth, staff, filed, email):
    """New, verifying, confirmed, then referred to the social services, each on the timeline."""
    assert auth.login(email).status_code == 302
    reference = filed["kadiolo"]
    path = f"/console/cases/{reference}/move"
    shown = page(client.get(f"/console/cases/{reference}"))
    assert '<option value="verifying">en vérification</option>' in shown
    steps = [
        ("verifying", "", "visite demain"),
        ("confirmed", "", "trois enfants au puits"),
        ("referred", "social", "dossier transmis"),
    ]
    for status, service, note in steps:
        response = auth.post(path, status=status, service=service, note=note)
        assert response.status_code == 200
        assert response.request.path == f"/console/cases/{reference}"
        assert "Dossier mis à jour." in page(response)
    case, events = case_of(app, reference)
    assert (case.status, case.referred_to) == ("referred", "social")
    assert case.referred_at is not None and case.follow_up_by is not None
    moves = [(e.actor, e.from_status, e.to_status, e.note) for e in events[-3:]]
    assert moves == [
        (f"console:{email}", "new", "verifying", "visite demain"),
        (f"console:{email}", "verifying", "confirmed", "trois enfants au puits"),
        (f"console:{email}", "confirmed", "referred", "social: dossier transmis"),
    ]
    timeline = page(client.get(f"/console/cases/{reference}"))
    assert timeline.count(f"console:{email}") == 3
    for change in ("nouveau → en vérification", "en vérification → confirmé", "confirmé → référé"):
        assert change in timeline
    assert "Service social / promotion de l'enfant" in timeline
    assert "Noter une visite de suivi" in timeline  # what may be done next


def test_a_follow_up_visit_and_closing_from_the_console(app, client, auth, runner, staff, filed):
    """A referred case takes follow-up visits, then closes, and then offers no move."""
    reference = filed["kadiolo"]
    for status in ("verifying", "confirmed"):
        runner.invoke(["case", "update", reference, "--status", status])
    runner.invoke(["case", "update", reference, "--status", "referred", "--to", "social"])
    assert auth.login().status_code == 302
    path = f"/console/cases/{reference}/move"
    assert "Dossier mis à jour." in page(
        auth.post(path, status="followup", note="enfants à l'école")
    )
    case, events = case_of(app, reference)
    assert (case.status, case.follow_ups) == ("following", 1)
    assert events[-1].note == "follow-up 1: enfants à l'école"
    assert "Dossier mis à jour." in page(auth.post(path, status="closed", note=""))
    shown = page(client.get(f"/console/cases/{reference}"))
    assert "Ce dossier est clos." in shown and path not in shown
    assert case_of(app, reference)[0].status == "closed"


@pytest.mark.parametrize(
    ("before", "status", "service"),
    [
        ((), "confirmed", ""),  # a step skipped
        ((), "closed", ""),
        ((), "referred", "social"),
        ((), "lost", ""),  # no such state
        ((), "followup", ""),  # a follow-up before any referral
        ((), "linked", ""),
        (("verifying", "confirmed"), "referred", ""),  # referring needs the service
        (("verifying", "confirmed"), "referred", "marabout"),  # a service we do not know
        (("verifying",), "verifying", ""),  # where it already is
    ],
)
def test_an_illegal_move_is_refused_in_french_and_changes_nothing(
    app, client, auth, runner, staff, filed, before, status, service
):
    """A move the cycle does not allow flashes the French refusal; the case stays as it was."""
    reference = filed["kadiolo"]
    for step in before:
        assert runner.invoke(["case", "update", reference, "--status", step]).exit_code == 0
    was, events = case_of(app, reference)
    assert auth.login().status_code == 302
    response = auth.post(f"/console/cases/{reference}/move", status=status, service=service)
    assert response.status_code == 200
    assert REFUSED in page(response)
    assert "Dossier mis à jour." not in page(response)
    case, after = case_of(app, reference)
    assert (case.status, case.referred_to, len(after)) == (was.status, None, len(events))


@pytest.mark.parametrize("phone", ["", "   ", "abc", "12", "7000000100000000000000000000000000"])
def test_assigning_to_a_bad_phone_is_refused(app, client, auth, staff, filed, phone):
    """A number that cannot be a phone flashes the French refusal, and nobody is assigned."""
    reference = filed["kadiolo"]
    _, events = case_of(app, reference)
    assert auth.login().status_code == 302
    response = auth.post(f"/console/cases/{reference}/assign", phone=phone)
    assert "Numéro de téléphone non valide." in page(response)
    case, after = case_of(app, reference)
    assert case.assignee is None and len(after) == len(events)
    with app.extensions["db"]() as db:
        assert db.scalars(select(Message).where(Message.kind == "case_assigned")).all() == []


def add_focal_point(runner, phone: str, *area: str) -> None:
    """Register a focal point of an area (--cercle C or --region R), as `focal-points add` does."""
    result = runner.invoke(["focal-points", "add", phone, *area, "--role", "agent"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("phone", ["70000001", "+223 70 00 00 01", "0022370000001"])
def test_assigning_a_case_records_the_agent_and_texts_them(
    app, client, auth, runner, staff, filed, phone
):
    """A focal point of the case's area becomes the assignee, on the timeline, and is texted."""
    reference = filed["kadiolo"]
    add_focal_point(runner, "+22370000001", "--cercle", "kadiolo")
    assert auth.login().status_code == 302
    assert 'list="focal-points"' in page(client.get(f"/console/cases/{reference}"))
    assert '<option value="+22370000001">' in page(client.get(f"/console/cases/{reference}"))
    response = auth.post(f"/console/cases/{reference}/assign", phone=phone)
    assert "Dossier confié. L'agent en est prévenu par SMS." in page(response)
    assert "+22370000001" in page(response)
    case, events = case_of(app, reference)
    assert case.assignee == "+22370000001"
    assert (events[-1].actor, events[-1].note, events[-1].assignee) == (
        f"console:{SUPERVISOR}", "assigned", "+22370000001")  # fmt: skip
    with app.extensions["db"]() as db:
        (sms,) = db.scalars(select(Message).where(Message.kind == "case_assigned")).all()
    assert sms.phone == "+22370000001" and reference in sms.body
    assert CONTACTABLE not in sms.body


@pytest.mark.parametrize("linked", [False, True])
def test_a_closed_or_linked_case_is_not_assigned(app, client, auth, runner, staff, filed, linked):
    """Nobody is handed a closed case (or a report inside another case), and no SMS is spent."""
    reference = filed["kadiolo"]
    if linked:  # a second report about the same site is kept inside the first case
        _, done = report(client, "2", *body("Massiogo"), contact="3", phone="+22376000799")
        reference = reference_of(done)
        assert case_of(app, reference)[0].status == "linked"
    else:
        for step in ("verifying", "unfounded", "closed"):
            assert runner.invoke(["case", "update", reference, "--status", step]).exit_code == 0
    add_focal_point(runner, "+22370000001", "--cercle", "kadiolo")  # refused for the state only
    _, events = case_of(app, reference)
    assert auth.login().status_code == 302
    assert 'name="phone"' not in page(client.get(f"/console/cases/{reference}"))
    response = auth.post(f"/console/cases/{reference}/assign", phone="70000001")
    assert REFUSED in page(response)
    case, after = case_of(app, reference)
    assert case.assignee is None and len(after) == len(events)
    cli = runner.invoke(["case", "assign", reference, "70000001"])
    assert cli.exit_code == 1 and "it is not assigned" in cli.output
    with app.extensions["db"]() as db:
        assert db.scalars(select(Message).where(Message.kind == "case_assigned")).all() == []


@pytest.mark.parametrize(
    "registered",
    [(), ("--cercle", "koutiala"), ("--region", "koutiala")],  # nobody, or another area
)
def test_a_case_is_assigned_only_to_a_focal_point_of_its_area(
    app, client, auth, runner, staff, filed, registered
):
    """Any other number is refused in French: no assignee, no SMS to a stranger."""
    reference = filed["kadiolo"]
    if registered:
        add_focal_point(runner, "+22370000002", *registered)
    _, events = case_of(app, reference)
    assert auth.login().status_code == 302
    response = auth.post(f"/console/cases/{reference}/assign", phone="+22370000002")
    assert "Ce numéro n'est pas celui d'un point focal de la zone du dossier" in page(response)
    case, after = case_of(app, reference)
    assert case.assignee is None and len(after) == len(events)
    with app.extensions["db"]() as db:
        assert db.scalars(select(Message).where(Message.kind == "case_assigned")).all() == []


def test_a_note_goes_on_the_timeline_without_moving_the_case(app, client, auth, staff, filed):
    """A note is one more line of the timeline; an empty one is refused."""
    reference = filed["kadiolo"]
    path = f"/console/cases/{reference}/note"
    assert auth.login().status_code == 302
    _, events = case_of(app, reference)
    assert "La note est vide." in page(auth.post(path, note="   "))
    assert len(case_of(app, reference)[1]) == len(events)
    response = auth.post(path, note="  Le chef de village   prévenu ")
    assert "Note ajoutée." in page(response)
    assert "Le chef de village prévenu" in page(response)
    case, after = case_of(app, reference)
    assert case.status == "new" and len(after) == len(events) + 1
    assert (after[-1].actor, after[-1].from_status, after[-1].to_status, after[-1].note) == (
        f"console:{SUPERVISOR}", "new", "new", "Le chef de village prévenu")  # fmt: skip


def test_a_long_note_is_cut_to_500_characters(app, client, auth, staff, filed):
    """A note longer than the field allows is stored cut, not refused with an error."""
    reference = filed["kadiolo"]
    assert auth.login().status_code == 302
    assert "Note ajoutée." in page(auth.post(f"/console/cases/{reference}/note", note="a" * 900))
    assert case_of(app, reference)[1][-1].note == "a" * 500


# -- list and export ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "query", "expected"),
    [
        (ADMIN, "", {"kadiolo", "urgent", "koutiala"}),
        (ADMIN, "status=verifying", {"kadiolo"}),
        (ADMIN, "status=new", {"urgent", "koutiala"}),
        (ADMIN, "status=closed", set()),
        (ADMIN, "status=bogus", {"kadiolo", "urgent", "koutiala"}),  # an unknown state: ignored
        (ADMIN, "cercle=koutiala", {"koutiala"}),
        (ADMIN, "cercle=Kadiolo", {"kadiolo", "urgent"}),
        (ADMIN, "urgent=1", {"urgent"}),
        (ADMIN, "cercle=kadiolo&urgent=1&status=new", {"urgent"}),
        (SUPERVISOR, "cercle=koutiala", set()),  # a filter never widens the scope
        (SUPERVISOR, "urgent=1", {"urgent"}),
    ],
)
def test_the_list_filters(app, client, auth, runner, staff, filed, email, query, expected):
    """Filters by state, cercle and urgency narrow the list, within the user's scope."""
    assert (
        runner.invoke(["case", "update", filed["kadiolo"], "--status", "verifying"]).exit_code == 0
    )
    assert auth.login(email).status_code == 302
    response = client.get("/console/cases?" + query)
    assert response.status_code == 200
    assert listed(response) == {filed[name] for name in expected}
    if not expected:
        assert "Aucun dossier." in page(response)


def test_the_list_puts_urgent_cases_first(app, client, auth, staff, filed):
    """The urgent case comes first, whatever the order the reports came in."""
    assert auth.login(ADMIN).status_code == 302
    text = client.get("/console/cases").get_data(as_text=True)
    order = re.findall(r'href="/console/cases/([A-Z0-9]{6})"', text)
    assert order == [filed["urgent"], filed["kadiolo"], filed["koutiala"]]


def export(client) -> tuple[list[str], list[dict]]:
    """Download the export; return its header and rows."""
    response = client.get("/console/cases/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    reader = csv.DictReader(response.get_data(as_text=True).splitlines())
    return list(reader.fieldnames or []), list(reader)


def test_a_supervisors_export_has_its_cases_and_no_phone(app, client, auth, staff, filed):
    """A supervisor exports only its cercle's cases, and no reporter's number in any form."""
    assert auth.login(SUPERVISOR).status_code == 302
    header, rows = export(client)
    assert "reporter_phone" not in header and "reporter_hash" not in header
    assert header[0] == "reference" and "linked_to" in header
    assert {r["reference"] for r in rows} == {filed["kadiolo"], filed["urgent"]}
    assert all(r["cercle"] == "kadiolo" for r in rows)
    text = client.get("/console/cases/export.csv").get_data(as_text=True)
    assert CONTACTABLE not in text and CONTACTABLE[1:] not in text


def test_an_admins_export_reveals_contactable_reporters_only(app, client, auth, staff, filed):
    """An admin's export has every case, with the decrypted number of those who may be called."""
    assert auth.login(ADMIN).status_code == 302
    header, rows = export(client)
    assert header[-1] == "reporter_phone"
    phones = {r["reference"]: r["reporter_phone"] for r in rows}
    assert phones == {filed["kadiolo"]: CONTACTABLE, filed["urgent"]: "", filed["koutiala"]: ""}
    by_ref = {r["reference"]: r for r in rows}
    assert by_ref[filed["kadiolo"]]["contactable"] == "True"
    assert by_ref[filed["urgent"]]["urgent"] == "True"
    with app.extensions["db"]() as db:
        stored = db.scalars(select(Case).where(Case.reference == filed["kadiolo"])).one()
    with app.app_context():
        assert cases.decrypt(stored.reporter_phone) == CONTACTABLE
    assert stored.reporter_phone != CONTACTABLE  # encrypted at rest, clear only in the export


def test_a_linked_report_is_exported_with_its_case(app, client, auth, staff, filed):
    """A second report about the same site is a row of its own that names its case."""
    answers = ["2", *body("Massiogo")]
    _, done = report(client, *answers, contact="3", phone="+22376000704")
    linked = reference_of(done)
    assert auth.login(SUPERVISOR).status_code == 302
    assert linked not in listed(client.get("/console/cases"))  # a line of its case
    _, rows = export(client)
    by_ref = {r["reference"]: r for r in rows}
    assert by_ref[linked]["linked_to"] == filed["kadiolo"]
    assert by_ref[linked]["status"] == "linked"
    assert by_ref[filed["kadiolo"]]["reports"] == "2"


# -- every page in French -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "signed_in", "status", "words"),
    [
        ("get", "/console/nope", False, 404, "Page ou dossier introuvable."),
        ("get", "/console/nope", True, 404, "Page ou dossier introuvable."),
        ("get", "/console/cases/ZZZZZZ", True, 404, "Page ou dossier introuvable."),
        ("get", "/console/logout", True, 405, "Action non permise."),
        ("post", "/console/cases", True, 405, "Action non permise."),
        ("post", "/console/logout", False, 400, "Demande invalide."),
        ("get", "/console/cases?cercle=%00", True, 400, "Demande invalide."),
        ("get", "/console/certificates?code=%00", True, 400, "Demande invalide."),
        ("get", "/console/cases/AB%00CD", True, 400, "Demande invalide."),
        ("get", "/console/campaigns/2147483648", True, 404, "Page ou dossier introuvable."),
        ("get", "/console/campaigns/99999999999999999999", True, 404, "Page ou dossier"),
        ("get", "/console/campaigns/2147483648/progress.json", True, 404, "Page ou dossier"),
    ],
)
def test_console_errors_are_french_pages(
    app, client, auth, staff, method, path, signed_in, status, words
):
    """Console errors are pages in French with a way back, never Werkzeug's English."""
    if signed_in:
        assert auth.login().status_code == 302
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert_french(response)
    text = page(response)
    assert words in text and "Retour aux dossiers" in text


@pytest.mark.parametrize(
    "form",
    [
        {"csrf_token": "é"},  # a token no session can hold
        {"csrf_token": "\x00"},
        {"email": "a\x00@kalan.ml", "password": PASSWORD},
    ],
)
def test_odd_sign_in_forms_are_french_400s(app, client, auth, staff, form):
    """A sign-in with a broken token or a NUL is refused in French, before anything is read."""
    token = auth.token()
    response = client.post("/console/login", data={"csrf_token": token, **form})
    assert response.status_code == 400
    assert_french(response)
    assert "Demande invalide." in page(response)


def test_a_nul_in_a_form_changes_nothing(app, client, auth, staff, filed):
    """A note with a NUL is a French 400, and the case's timeline is as it was."""
    reference = filed["kadiolo"]
    _, events = case_of(app, reference)
    assert auth.login().status_code == 302
    response = auth.post(f"/console/cases/{reference}/note", follow=False, note="a\x00b")
    assert response.status_code == 400
    assert_french(response)
    assert len(case_of(app, reference)[1]) == len(events)


@pytest.mark.parametrize("next_", ["/console/\r\nX:y", "/console/\nX", "/console/\tx"])
def test_a_next_with_control_characters_leads_home(app, client, auth, staff, next_):
    """A return path that could split a header is dropped: the dashboard opens instead."""
    response = auth.login(next=next_)
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/"


def test_a_long_email_fits_in_the_timeline(app, client, auth, staff, filed):
    """An address of 250 characters still signs the case's timeline (PostgreSQL checks sizes)."""
    email = ("k" * 236) + "@kalan.ml"
    with app.extensions["db"]() as db:
        db.add(User(email=email, role="admin", scope=None, password_hash=password_hash()))
        db.commit()
    reference = filed["kadiolo"]
    assert auth.login(email).status_code == 302
    response = auth.post(f"/console/cases/{reference}/note", note="vu par le chef")
    assert response.status_code == 200 and "Note ajoutée." in page(response)
    assert case_of(app, reference)[1][-1].actor == f"console:{email}"


def test_a_linked_report_takes_no_note(app, client, auth, staff, filed):
    """A report kept inside another case is read only, even for a form sent by hand."""
    _, done = report(client, "2", *body("Massiogo"), contact="3", phone="+22376000798")
    reference = reference_of(done)
    _, events = case_of(app, reference)
    assert auth.login().status_code == 302
    response = auth.post(f"/console/cases/{reference}/note", note="ici")
    assert REFUSED in page(response)
    assert len(case_of(app, reference)[1]) == len(events)


def test_errors_outside_the_console_stay_one_plain_line(app, client):
    """The webhooks' error answers are unchanged: one plain line, for gateways."""
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.mimetype == "text/plain"
    assert "<html" not in response.get_data(as_text=True)


@pytest.mark.parametrize("email", [ADMIN, SUPERVISOR, VIEWER])
def test_console_pages_are_french(app, client, auth, staff, filed, email):
    """The list and a case page speak French, roles included, for every role."""
    assert auth.login(email).status_code == 302
    listing = client.get("/console/cases")
    assert_french(listing)
    role = {"admin": "administrateur", "supervisor": "superviseur", "viewer": "lecture seule"}
    assert f"Connecté : {email} ({role[STAFF[email][0]]})" in page(listing)
    for words in ("Dossiers", "Référence", "État", "Filtrer", "Se déconnecter"):
        assert words in page(listing)
    reference = sorted(listed(listing))[0]
    shown = client.get(f"/console/cases/{reference}")
    assert_french(shown)
    for words in ("Ce qui est signalé", "Historique", "nouveau", "Orpaillage / site minier"):
        assert words in page(shown)


def test_a_site_name_that_looks_like_a_formula_is_exported_inert(app, client, auth, staff):
    """A site typed as =HYPERLINK(...) must not run when the CSV is opened in a spreadsheet."""
    answers = ["2", "1", "1", "2", "=HYPERLINK(1)", "2", "2", "1", "2", "1"]
    report(client, *answers, contact="3", phone="+22376000720")
    assert auth.login(ADMIN).status_code == 302
    _, rows = export(client)
    assert [r["place"] for r in rows] == ["'=HYPERLINK(1)"]


def test_a_linked_report_points_to_its_case_and_offers_no_action(app, client, auth, staff):
    """The second report about a site is a line of the first case: its page says so."""
    _, first = report(client, "2", *body(), contact="3", phone="+22376000721")
    _, second = report(client, "2", *body(), contact="3", phone="+22376000722")
    assert auth.login(ADMIN).status_code == 302
    shown = client.get(f"/console/cases/{reference_of(second)}")
    text = page(shown)
    assert "auquel il est rattaché" in text and f">{reference_of(first)}</a>" in text
    assert "Passer à l'état suivant" not in text and "Confier à un agent" not in text
    assert "Ce dossier est clos." not in text
