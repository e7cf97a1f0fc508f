"""The case desk over the webhook: PIN, lock, the list of cases and moving them on."""

import json

import pytest
from sqlalchemy import select

from app.infra.models import Case, CaseEvent

from .conftest import Dial
from .helpers import body, report

AGENT, SUPERVISOR, OTHER = "+22370100001", "+22370100002", "+22370100003"
PIN = "4821"


@pytest.fixture
def staffed(runner):
    """An agent of Kadiolo, a supervisor of its region (Sikasso), and an agent elsewhere."""
    for phone, where, role in (
        (AGENT, ("--cercle", "kadiolo"), "agent"),
        (SUPERVISOR, ("--region", "sikasso"), "supervisor"),
        (OTHER, ("--cercle", "koutiala"), "agent"),
    ):
        args = ["focal-points", "add", phone, *where, "--role", role, "--pin-stdin"]
        result = runner.invoke(args, input=PIN + "\n")
        assert result.exit_code == 0, result.output
    return runner


def reference_of(done: str) -> str:
    return done.split("Référence : ")[1][:6]


def desk(client, phone=AGENT, pin=PIN) -> tuple[Dial, str]:
    """Dial, open Mes dossiers (6 for a focal point), type the PIN; return the caller and list."""
    caller = Dial(client, phone=phone)
    menu = caller()  # the main menu at once: one language, nothing to choose
    assert "6. Mes dossiers" in menu and "7. Quitter" in menu
    caller("6")
    return caller, caller(pin)


def lookup(client, reference: str) -> str:
    """Look a reference up as anyone would: Suivre un signalement."""
    caller = Dial(client, phone="+22376000999")
    if caller().startswith("CON Bienvenue"):
        caller("1")  # the language, on this phone's first call
    return caller("4", reference)


def test_only_focal_points_see_the_desk(app, client, staffed):
    menu = Dial(client, phone="+22376000998")()
    assert "Mes dossiers" not in menu and "6. Quitter" in menu


def test_an_agent_moves_a_case_to_confirmed_then_referred(app, client, staffed):
    _, done = report(client, "2", *body())
    reference = reference_of(done)
    assert (
        lookup(client, reference) == f"CON Signalement {reference} : enregistré.\n0.Retour 00.Menu"
    )
    caller, listing = desk(client)
    assert listing.startswith("CON Dossiers ouverts : 1\n1. " + reference + " Kadiolo")
    shown = caller("1")
    assert shown.startswith(f"CON {reference} : nouveau. Échéance : ")
    assert "Danger : Mercure / produits. 2 à 5 filles, 13 ou 14 ans. Orpaillage, Kadiolo" in shown
    assert "1. Commencer la vérification" in caller("99")  # the options close the case
    steps = [
        ("1", "1", "en vérification", "en vérification"),  # start verifying, no note
        ("1", "Visite faite, 3 enfants au puits", "confirmé", "en vérification"),
    ]
    for choice, note, state, public in steps:
        assert caller(choice).startswith("CON Note courte")
        confirm = caller(note)
        assert confirm.startswith(f"CON {reference} : ")
        assert caller("1").startswith(f"CON Enregistré. {reference} : {state}.\n")
        assert lookup(client, reference).startswith(f"CON Signalement {reference} : {public}.")
        caller("1")  # back to the list, fresh from the database
        caller("1")  # the case again
    assert "1. Référer à un service" in caller("99")  # the case, confirmed now
    caller("1")  # refer
    caller("1")  # to the social services
    caller("1")  # no note
    assert caller("1") == (
        f"CON Enregistré. {reference} : référé : "
        "Service social / promotion de l'enfant.\n1. Mes dossiers"
    )
    assert lookup(client, reference).startswith(f"CON Signalement {reference} : référé.")
    with app.extensions["db"]() as db:
        case = db.scalars(select(Case).where(Case.reference == reference)).one()
        log = db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    assert (case.status, case.referred_to, case.assignee) == ("referred", "social", AGENT)
    assert case.follow_up_by is not None
    moves = [(e.actor, e.to_status, e.note) for e in log if e.from_status != e.to_status]
    assert moves[1:] == [
        (f"ussd:{AGENT}", "verifying", None),
        (f"ussd:{AGENT}", "confirmed", "Visite faite, 3 enfants au puits"),
        (f"ussd:{AGENT}", "referred", "social"),
    ]


def test_back_on_the_done_screen_over_the_webhook_saves_nothing_more(app, client, staffed):
    """0 after Valider is refused; the case has moved once, and the list follows."""
    _, done = report(client, "2", *body())
    reference = reference_of(done)
    caller, _ = desk(client)
    caller("1")  # the case
    caller("1")  # start verifying
    caller("1")  # no note
    saved = caller("1")  # Valider
    assert saved == f"CON Enregistré. {reference} : en vérification.\n1. Mes dossiers"
    assert caller("0") == "CON Choix invalide.\n" + saved.removeprefix("CON ")
    assert caller("1").startswith("CON Dossiers ouverts : 1\n1. " + reference)
    with app.extensions["db"]() as db:
        case = db.scalars(select(Case).where(Case.reference == reference)).one()
        log = db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    assert case.status == "verifying"
    assert [e.to_status for e in log if e.actor == f"ussd:{AGENT}"] == ["verifying"]


def test_five_wrong_pins_lock_the_desk(app, client, staffed):
    caller = Dial(client, phone=AGENT)
    caller("6")
    for left in (4, 3, 2, 1):
        assert caller("0000").startswith(f"CON PIN incorrect. Essais restants : {left}.\n1. Réess")
        caller("1")
    assert caller("0000").startswith("END Trop d'essais. Accès bloqué pendant 15 minutes.")
    # The right PIN does not open a locked desk, even in a new session.
    again = Dial(client, phone=AGENT)
    again("6")
    assert again(PIN).startswith("END Trop d'essais.")


# --- the wrong-PIN screen, as the demo's focal point meets it ----------------------------------

DEMO, DEMO_PIN = "+22366000001", "1234"  # make run's Sikasso agent (sandbox/demo.yaml)
RETRY = "\n1. Réessayer\n0.Retour 00.Menu"
FORMAT = "CON Le PIN compte 4 à 6 chiffres.\n"


@pytest.fixture
def seeded(runner):
    """The demo contacts and focal points that `make run` seeds."""
    result = runner.invoke(["seed"])
    assert result.exit_code == 0, result.output
    return runner


def wrong_once(client) -> Dial:
    """Dial as the demo agent, open Mes dossiers and type a wrong PIN."""
    caller = Dial(client, phone=DEMO)
    caller("6")
    assert caller("1111") == "CON PIN incorrect. Essais restants : 4." + RETRY
    return caller


@pytest.mark.parametrize(
    ("answer", "reply"),
    [
        (DEMO_PIN, "CON Dossiers ouverts : 0\n0.Retour 00.Menu"),  # taken as a PIN: it opens
        ("2222", "CON PIN incorrect. Essais restants : 3." + RETRY),  # a wrong one spends a try
        ("123456", "CON PIN incorrect. Essais restants : 3." + RETRY),
        ("1", "CON Mes dossiers. Entrez votre code PIN :\n0.Retour 00.Menu"),
        ("0", "CON Mes dossiers. Entrez votre code PIN :\n0.Retour 00.Menu"),
        # Anything else spends nothing, and the count stays right.
        ("12", FORMAT + "PIN incorrect. Essais restants : 4." + RETRY),
        ("7", FORMAT + "PIN incorrect. Essais restants : 4." + RETRY),
        ("99", FORMAT + "PIN incorrect. Essais restants : 4." + RETRY),
        ("1234567", FORMAT + "PIN incorrect. Essais restants : 4." + RETRY),
        ("12a4", FORMAT + "PIN incorrect. Essais restants : 4." + RETRY),
    ],
    ids=["right-pin", "wrong-pin", "wrong-6-digits", "retry", "back", "too-short", "digit",
         "next", "too-long", "letter"],
)  # fmt: skip
def test_the_retry_screen_takes_a_pin_and_keeps_the_count(app, client, seeded, answer, reply):
    """The issue's walk: +22366000001, 6, 1111, then 1234 at 1. Réessayer opens the desk."""
    assert wrong_once(client)(answer) == reply


def test_pins_typed_on_the_retry_screen_count_to_the_lock(app, client, seeded):
    """Each wrong PIN typed at 1. Réessayer counts once; garbage between them counts none."""
    caller = wrong_once(client)
    for pin, left in (("2222", 3), ("3333", 2), ("4444", 1)):
        assert caller("12") == FORMAT + f"PIN incorrect. Essais restants : {left + 1}." + RETRY
        assert caller(pin) == f"CON PIN incorrect. Essais restants : {left}." + RETRY
    assert caller("5555") == "END Trop d'essais. Accès bloqué pendant 15 minutes."
    again = Dial(client, phone=DEMO)
    again("6")
    assert again(DEMO_PIN).startswith("END Trop d'essais.")


def test_the_retry_screen_counts_the_tries_of_every_session(app, client, seeded):
    """The count is the phone's, in Redis: a try spent in another session shows here."""
    first = wrong_once(client)
    second = Dial(client, phone=DEMO)
    second("6")
    assert second("2222") == "CON PIN incorrect. Essais restants : 3." + RETRY
    assert first("12") == FORMAT + "PIN incorrect. Essais restants : 3." + RETRY


def test_a_pin_typed_on_the_retry_screen_never_lands_in_redis(app, client, seeded):
    """Masked like the first one; the list it opens leads back to the menu, not the retry."""
    caller = wrong_once(client)
    assert caller(DEMO_PIN).startswith("CON Dossiers ouverts : 0")
    redis, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
    session = json.loads(redis.get(f"{prefix}session:{caller.session_id}"))
    assert session["text"] == "6*####*####"
    for key in redis.scan_iter(match=prefix + "*"):
        if redis.type(key) == b"string":
            assert DEMO_PIN.encode() not in redis.get(key), key
    assert caller("0").startswith("CON Kalan - Menu principal\n")


def test_an_agent_sees_only_their_cases(app, client, staffed):
    report(client, "2", *body())
    _, listing = desk(client, phone=OTHER)
    assert listing.startswith("CON Dossiers ouverts : 0")


def test_the_gateway_summary_of_a_desk_session_keeps_no_pin(app, client, staffed):
    from app.infra.models import UssdEvent

    caller, _ = desk(client)
    form = {"sessionId": caller.session_id, "phoneNumber": AGENT, "serviceCode": "*123#",
            "status": "Success", "input": "*".join(caller.inputs), "networkCode": "99999",
            "date": "2026-11-29 20:00:00", "hopsCount": "3"}  # fmt: skip
    assert client.post("/ussd/events", data=form).status_code == 200
    with app.extensions["db"]() as db:
        event = db.scalars(select(UssdEvent)).one()
    assert event.last_node == "desk.list"
    assert not [c.key for c in UssdEvent.__table__.columns if PIN in str(getattr(event, c.key))]


def test_the_pin_never_lands_in_redis(app, client, staffed):
    """The session keeps the text it consumed with the PIN masked, and goes on as usual."""
    caller, listing = desk(client)
    redis = app.extensions["redis"]
    for key in redis.scan_iter(match=app.config["REDIS_PREFIX"] + "*"):
        if redis.type(key) == b"string":
            assert PIN.encode() not in redis.get(key), key
    session = json.loads(redis.get(f"{app.config['REDIS_PREFIX']}session:{caller.session_id}"))
    assert session["text"] == "6*####"
    assert caller.post("6*" + PIN) == listing  # the gateway resends the PIN's hop
    shown = caller("1")  # the next hop reads past the masked PIN
    assert shown.startswith("CON ") and shown != listing
    assert caller.post("*".join(caller.inputs)) == shown


def test_an_unfounded_case_waits_on_the_desk_to_be_closed(app, client, runner, staffed):
    _, done = report(client, "2", *body())
    reference = reference_of(done)
    for status in ("verifying", "unfounded"):
        assert runner.invoke(["case", "update", reference, "--status", status]).exit_code == 0
    caller, listing = desk(client, phone=SUPERVISOR)
    assert reference in listing
    assert caller("1").startswith(f"CON {reference} : non fondé. Danger : ")  # nothing due
    assert "1. Clore le dossier" in caller("99")


def test_wrong_pins_are_counted_under_the_callers_salted_name(app, client, staffed):
    """The lock's counter lives while the desk is tried: it names no phone in clear."""
    caller, wrong = desk(client, pin="9999")
    assert wrong.startswith("CON PIN incorrect.")
    redis = app.extensions["redis"]
    keys = list(redis.scan_iter(match=app.config["REDIS_PREFIX"] + "pin:*"))
    assert len(keys) == 1 and redis.get(keys[0]) == b"1"
    for key in redis.scan_iter(match=app.config["REDIS_PREFIX"] + "*"):
        values = [redis.get(key)] if redis.type(key) == b"string" else []
        assert not any(AGENT[1:].encode() in v for v in [key, *values] if v), key
