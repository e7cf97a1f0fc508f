"""The case desk over the webhook: PIN, lock, the list of cases and moving them on."""

import pytest
from sqlalchemy import select

from app.models import Case, CaseEvent

from .conftest import Dial
from .test_cases import body, report

AGENT, SUPERVISOR, OTHER = "+22370100001", "+22370100002", "+22370100003"
PIN = "4821"


@pytest.fixture
def staffed(runner):
    """An agent and a supervisor for Kadiolo, and an agent elsewhere."""
    for phone, area, role in (
        (AGENT, "kadiolo", "agent"),
        (SUPERVISOR, "sikasso", "supervisor"),
        (OTHER, "koutiala", "agent"),
    ):
        args = ["focal-points", "add", phone, "--cercle", area, "--role", role, "--pin-stdin"]
        result = runner.invoke(args, input=PIN + "\n")
        assert result.exit_code == 0, result.output
    return runner


def reference_of(done: str) -> str:
    return done.split("Référence : ")[1][:6]


def desk(client, phone=AGENT, pin=PIN) -> tuple[Dial, str]:
    """Dial, open Mes dossiers (5 for a focal point), type the PIN; return the caller and list."""
    caller = Dial(client, phone=phone)
    menu = caller("1")  # language
    assert "5. Mes dossiers" in menu and "6. Quitter" in menu
    caller("5")
    return caller, caller(pin)


def lookup(client, reference: str) -> str:
    """Look a reference up as anyone would: Suivre un signalement."""
    caller = Dial(client, phone="+22376000999")
    if caller().startswith("CON Bienvenue"):
        caller("1")  # the language, on this phone's first call
    return caller("3", reference)


def test_only_focal_points_see_the_desk(app, client, staffed):
    menu = Dial(client, phone="+22376000998")("1")
    assert "Mes dossiers" not in menu and "5. Quitter" in menu


def test_an_agent_moves_a_case_to_confirmed_then_referred(app, client, staffed):
    _, done = report(client, "2", *body())
    reference = reference_of(done)
    assert (
        lookup(client, reference) == f"CON Signalement {reference} : enregistré.\n0.Retour 00.Menu"
    )
    caller, listing = desk(client)
    assert listing.startswith("CON Dossiers ouverts : 1\n1. " + reference + " Kadiolo")
    shown = caller("1")
    assert shown.startswith(f"CON {reference} : nouveau. Kadiolo, Massiogo.")
    assert "1. Commencer la vérification" in shown
    steps = [
        ("1", "1", "en vérification"),  # start verifying, no note
        ("1", "Visite faite, 3 enfants au puits", "en vérification"),  # confirmed
    ]
    for choice, note, public in steps:
        assert caller(choice).startswith("CON Note courte")
        confirm = caller(note)
        assert confirm.startswith(f"CON {reference} : ")
        assert caller("1").startswith("CON Enregistré.")
        assert lookup(client, reference).startswith(f"CON Signalement {reference} : {public}.")
        caller("1")  # back to the list, fresh from the database
        caller("1")  # the case again
    assert "1. Référer à un service" in caller.post("*".join(caller.inputs[:-1]) + "*1")
    caller("1")  # refer
    caller("1")  # to the social services
    caller("1")  # no note
    assert caller("1").startswith(f"CON Enregistré. {reference} : Référer")
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


def test_five_wrong_pins_lock_the_desk(app, client, staffed):
    caller = Dial(client, phone=AGENT)
    caller("1", "5")
    for left in (4, 3, 2, 1):
        assert caller("0000").startswith(f"CON PIN incorrect. Essais restants : {left}.\n1. Réess")
        caller("1")
    assert caller("0000").startswith("END Trop d'essais. Accès bloqué pendant 15 minutes.")
    # The right PIN does not open a locked desk, even in a new session.
    again = Dial(client, phone=AGENT)
    again("5")  # the language is known by now
    assert again(PIN).startswith("END Trop d'essais.")


def test_an_agent_sees_only_their_cases(app, client, staffed):
    report(client, "2", *body())
    _, listing = desk(client, phone=OTHER)
    assert listing.startswith("CON Dossiers ouverts : 0")
