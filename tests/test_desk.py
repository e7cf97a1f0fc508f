"""The case desk over the webhook: PIN, lock, the list of cases and moving them on."""

import json
from pathlib import Path

import pytest
from sqlalchemy import select

import flows
from app.content import load
from app.infra.models import Case, CaseEvent
from flows.desk import FOLLOW_UP, SAMPLE, SERVICES, parse_note, parse_pin
from flows.effects import MoveCase
from flows.engine import MENU, layout

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
    assert caller("1") == (
        f"CON Enregistré. {reference} : Référer à un service : "
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
    assert saved == f"CON Enregistré. {reference} : Commencer la vérification.\n1. Mes dossiers"
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


def test_an_agent_sees_only_their_cases(app, client, staffed):
    report(client, "2", *body())
    _, listing = desk(client, phone=OTHER)
    assert listing.startswith("CON Dossiers ouverts : 0")


# --- the desk flow alone, with hand-made context -------------------------------------------------

CATALOG, _ = load(Path(__file__).resolve().parent.parent / "content")
LIMIT = 160
OK = {"result": "ok", "left": 5, "wait": 0}
CASE_CALM = {**SAMPLE, "reference": "KADFRE", "status": "new", "urgent": False,
             "region": "sikasso", "cercle": "kadiolo", "place": "Massiogo", "hazard": "pits",
             "reports": 2, "due": "05/03 08h00", "next": ["verifying"]}  # fmt: skip
# No known cercle: the desk names the region.
CASE_URGENT = {**CASE_CALM, "reference": "KADURG", "urgent": True, "place": None,
               "status": "confirmed", "cercle": "unknown", "next": ["referred"]}  # fmt: skip
DESK = {"role": "agent", "cases": [CASE_URGENT, CASE_CALM]}


def context(pin=OK, cases=DESK) -> dict:
    """Return what the webhook gives the desk: a focal point's profile, the PIN check, the cases."""
    return {"phone": AGENT, "code": "*123#", "lang": "fr", "languages": (("fr", "Francais"),),
            "profile": {"lang": "fr", "focal": "agent"}, "pin": pin, "desk": cases}  # fmt: skip


def at_pin(ctx) -> flows.Step:
    """Open a session and pick Mes dossiers on the main menu, wherever it is listed."""
    shown = [o for o in flows.FLOW[MENU].options if o.show is None or o.show(ctx)]
    number = [o.label for o in shown].index("menu.desk") + 1
    result = flows.step(flows.FLOW, None, None, ctx, CATALOG, LIMIT)
    return flows.step(flows.FLOW, result.state, str(number), ctx, CATALOG, LIMIT)


def walk(*inputs, ctx=None, start=None) -> flows.Step:
    """Send each input from the PIN screen (or from a Step); return the last Step."""
    ctx = context() if ctx is None else ctx
    result = at_pin(ctx) if start is None else start
    for text in inputs:
        result = flows.step(flows.FLOW, result.state, text, ctx, CATALOG, LIMIT)
    return result


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("4821", True), (" 4821 ", True), ("123456", True), ("0000", True), ("123", None),
     ("1234567", None), ("", None), ("12a4", None), ("12 34", None), ("4*8*2*1", None),
     ("١٢٣٤", None), ("00", None), ("99", None)],
)  # fmt: skip
def test_parse_pin(text, parsed):
    """A PIN is 4 to 6 digits; navigation codes and anything else are not."""
    assert parse_pin(text) is parsed


@pytest.mark.parametrize(
    ("text", "note"),
    [("1", ""), (" 1 ", ""), ("  Visite   faite ", "Visite faite"),
     ("3*enfants*au puits", "3 enfants au puits"), ("cœur ça", "coeur ca"),
     ("Élève vu", "Élève vu"), ("N" * 100, "N" * 100), ("N" * 101, None), ("œ" * 51, None),
     ("", None), ("   ", None), ("***", None)],
)  # fmt: skip
def test_parse_note(text, note):
    """A note is one GSM-7 line of at most 100 characters; 1 skips it."""
    assert parse_note(text) == note


@pytest.mark.parametrize(
    ("pin", "cases", "node", "reply"),
    [
        (OK, DESK, "desk.list",
         "CON Dossiers ouverts : 2\n1. KADURG Sikasso URGENT\n2. KADFRE Kadiolo\n0.Retour 00.Menu"),
        (OK, {"role": "supervisor", "cases": []}, "desk.list", "CON Dossiers ouverts : 0\n"),
        (OK, None, "desk", "CON Mes dossiers. Entrez votre code PIN :\n"),
        ({"result": "wrong", "left": 3, "wait": 0}, None, "desk.wrong",
         "CON PIN incorrect. Essais restants : 3.\n1. Réessayer\n"),
        ({"result": "wrong", "left": 1, "wait": 0}, None, "desk.wrong",
         "CON PIN incorrect. Essais restants : 1.\n"),
        ({"result": "locked", "left": 0, "wait": 900}, None, "desk.locked",
         "END Trop d'essais. Accès bloqué pendant 15 minutes."),
        ({"result": "locked", "left": 0, "wait": 61}, None, "desk.locked",
         "END Trop d'essais. Accès bloqué pendant 2 minutes."),
        ({"result": "locked", "left": 0, "wait": 1}, None, "desk.locked",
         "END Trop d'essais. Accès bloqué pendant 1 minutes."),
    ],
    ids=["ok", "ok-empty", "ok-but-closed", "wrong", "wrong-last", "locked", "locked-61s",
         "locked-1s"],
)  # fmt: skip
def test_the_pin_check_routes_the_caller(pin, cases, node, reply):
    """ok opens the list, wrong offers a retry, locked ends; a desk not open asks the PIN again."""
    result = walk(PIN, ctx=context(pin, cases))
    assert result.state["node"] == node
    assert result.reply.startswith(reply)
    assert result.end is (node == "desk.locked")
    assert PIN not in json.dumps(result.state)  # the PIN itself is never kept


def test_a_malformed_pin_is_asked_again_without_a_check():
    """A PIN of the wrong shape stays on the PIN screen with the format reminder."""
    result = walk("12", ctx=context(pin=None, cases=None))
    assert result.state["node"] == "desk"
    assert result.reply.startswith("CON Le PIN compte 4 à 6 chiffres.\nMes dossiers. Entrez")


def test_retry_after_a_wrong_pin_returns_to_the_pin_screen():
    """1 on the wrong-PIN screen asks the PIN again."""
    result = walk(PIN, "1", ctx=context({"result": "wrong", "left": 4, "wait": 0}, None))
    assert result.state["node"] == "desk"
    assert result.reply.startswith("CON Mes dossiers. Entrez votre code PIN :")


@pytest.mark.parametrize(
    ("status", "steps", "lines", "targets"),
    [
        ("new", ["verifying"], ("1. Commencer la vérification",), ["desk.note"]),
        ("verifying", ["confirmed", "unfounded"], ("1. Confirmé", "2. Non fondé"),
         ["desk.note", "desk.note"]),
        ("confirmed", ["referred"], ("1. Référer à un service",), ["desk.service"]),
        ("referred", [FOLLOW_UP, "following"],
         ("1. Noter une visite de suivi", "2. Mettre en suivi"), ["desk.note", "desk.note"]),
        ("following", [FOLLOW_UP, "closed"],
         ("1. Noter une visite de suivi", "2. Clore le dossier"), ["desk.note", "desk.note"]),
        ("unfounded", ["closed"], ("1. Clore le dossier",), ["desk.note"]),
        ("closed", [], (), []),
    ],
)  # fmt: skip
def test_the_case_screen_offers_the_next_steps_of_the_case(status, steps, lines, targets):
    """The case screen shows the case and one option per next step, in its order."""
    case = {**CASE_CALM, "status": status, "next": steps}
    ctx = context(cases={"role": "agent", "cases": [case]})
    shown = walk(PIN, "1", ctx=ctx)
    assert shown.state["node"] == "desk.case"
    assert shown.state["data"]["case"] == "KADFRE"
    assert shown.reply.startswith("CON KADFRE : ")
    assert "Kadiolo, Massiogo. Danger : Puits / sous terre. Échéance : 05/03 08h00." in shown.reply
    assert layout(flows.FLOW["desk.case"], shown.state, ctx, CATALOG, LIMIT).lines == lines
    reached = [walk(str(n), ctx=ctx, start=shown).state["node"] for n in range(1, len(steps) + 1)]
    assert reached == targets


def test_a_case_gone_from_the_desk_offers_nothing():
    """A case no longer on the desk says so and has no options."""
    shown = walk(PIN, "2")
    gone = walk("1", ctx=context(cases={"role": "agent", "cases": [CASE_URGENT]}), start=shown)
    assert gone.state["node"] == "desk.case"
    assert gone.reply.startswith("CON Choix invalide.\nKADFRE : n'est plus sur votre liste.")
    assert gone.effects == ()


@pytest.mark.parametrize(
    ("choice", "steps", "inputs", "move"),
    [
        (2, ["verifying"], ("1", "1"), MoveCase("KADFRE", "verifying", "", None)),
        (2, ["confirmed", "unfounded"], ("2", "Pas d'enfant*vu"),
         MoveCase("KADFRE", "unfounded", "Pas d'enfant vu", None)),
        (1, ["referred"], ("1", "4", "Au commissariat"),
         MoveCase("KADURG", "referred", "Au commissariat", "police")),
        (1, ["referred"], ("1", "1", "1"), MoveCase("KADURG", "referred", "", "social")),
        (2, [FOLLOW_UP, "closed"], ("1", "Visite faite"),
         MoveCase("KADFRE", FOLLOW_UP, "Visite faite", None)),
    ],
)  # fmt: skip
def test_valider_moves_the_chosen_case(choice, steps, inputs, move):
    """Valider on the confirm screen yields one MoveCase with the case, status, note, service."""
    chosen = next(c for c in (CASE_URGENT, CASE_CALM) if c["reference"] == move.reference)
    ctx = context(cases={"role": "agent", "cases": [CASE_URGENT, CASE_CALM]})
    ctx["desk"]["cases"][choice - 1] = {**chosen, "next": steps}
    # A referral has its own confirm and done screens, which name the service.
    variant = ".refer" if move.status == "referred" else ""
    confirm = walk(PIN, str(choice), *inputs, ctx=ctx)
    assert confirm.state["node"] == "desk.confirm" + variant
    assert confirm.reply.startswith(f"CON {move.reference} : ")
    assert confirm.reply.endswith("1. Valider\n2. Annuler\n0.Retour 00.Menu")
    assert not any(isinstance(e, MoveCase) for e in confirm.effects)
    done = walk("1", ctx=ctx, start=confirm)
    assert done.state["node"] == "desk.done" + variant
    assert done.reply.startswith(f"CON Enregistré. {move.reference} : ")
    assert done.reply.endswith(".\n1. Mes dossiers")  # no 0 or 00 after a save
    assert done.effects == (move,)


@pytest.mark.parametrize(
    ("inputs", "confirm", "done"),
    [
        (("2", "1", "1"), "KADFRE : Commencer la vérification. Note : -",
         "Enregistré. KADFRE : Commencer la vérification."),
        (("1", "1", "4", "Au commissariat"),
         "KADURG : Référer à un service : Police / gendarmerie. Note : Au commissariat",
         "Enregistré. KADURG : Référer à un service : Police / gendarmerie."),
        (("1", "1", "1", "1"),
         "KADURG : Référer à un service : Service social / promotion de l'enfant. Note : -",
         "Enregistré. KADURG : Référer à un service : Service social / promotion de l'enfant."),
        *((("1", "1", number, "1"),
           f"KADURG : Référer à un service : {label}. Note : -",
           f"Enregistré. KADURG : Référer à un service : {label}.")
          for number, label in (("7", "Inspection du travail"),
                                ("8", "Formation 15-17 ans (Alphalog, CRK)"),
                                ("9", "Appui économique (RMCR, épargne)"),
                                ("10", "État civil / acte de naissance"))),
    ],
    ids=["no-service", "referred-police", "referred-social", "referred-labour",
         "referred-training", "referred-economic", "referred-civil"],
)  # fmt: skip
def test_the_confirm_and_done_screens_read_in_full(inputs, confirm, done):
    """Only a referral names the service, after its own colon; the others end at the step."""
    confirmed = walk(PIN, *inputs)
    assert confirmed.reply == f"CON {confirm}\n1. Valider\n2. Annuler\n0.Retour 00.Menu"
    saved = walk("1", start=confirmed)
    assert saved.reply == f"CON {done}\n1. Mes dossiers"


@pytest.mark.parametrize("inputs", [("2", "1", "Note"), ("1", "1", "4", "Note")])
def test_back_from_the_confirm_screen_returns_to_the_note(inputs):
    """0 on either confirm screen goes back to the note, not round the route to itself."""
    confirm = walk(PIN, *inputs)
    back = walk("0", start=confirm)
    assert back.state["node"] == "desk.note"
    assert back.reply.startswith("CON Note courte (100 caractères au plus).")
    assert walk("Autre", start=back).state["node"] == confirm.state["node"]


def test_the_service_menu_lists_every_service_before_the_note():
    """Referring asks the service first; each service leads to the note."""
    service = walk(PIN, "1", "1")
    assert service.state["node"] == "desk.service"
    assert service.reply.startswith("CON Référer à quel service ?\n1. Service social")
    lines = layout(flows.FLOW["desk.service"], service.state, context(), CATALOG, LIMIT).lines
    assert len(lines) == len(SERVICES)
    for number, name in enumerate(SERVICES, 1):
        note = walk(str(number), start=service)
        assert (note.state["node"], note.state["data"]["service"]) == ("desk.note", name)


def test_annuler_moves_nothing_and_returns_to_the_list():
    """Annuler on the confirm screen goes back to the list without an effect."""
    cancelled = walk(PIN, "2", "1", "1", "2")
    assert cancelled.state["node"] == "desk.list"
    assert not any(isinstance(e, MoveCase) for e in cancelled.effects)


def test_a_desk_no_longer_open_sends_the_caller_to_the_pin():
    """With ctx["desk"] None, Mes dossiers on the done screen asks the PIN again."""
    done = walk(PIN, "2", "1", "1", "1")
    assert done.state["node"] == "desk.done"
    again = walk("1", ctx=context(cases=None), start=done)
    assert again.state["node"] == "desk"
    assert again.reply.startswith("CON Mes dossiers. Entrez votre code PIN :")
    listed = walk("1", start=done)
    assert listed.state["node"] == "desk.list"


def test_a_note_too_long_is_asked_again():
    """A note over 100 characters stays on the note screen with the error."""
    result = walk(PIN, "2", "1", "N" * 101)
    assert result.state["node"] == "desk.note"
    assert result.reply.startswith("CON Note trop longue : 100 caractères au plus, ou 1 pour")


def test_a_move_without_a_service_reads_without_a_stray_space():
    """The confirm and done screens of a move to no service have no space before the period."""
    confirm = walk(PIN, "2", "1", "1")
    done = walk("1", start=confirm)
    assert confirm.state["node"] == "desk.confirm"
    assert confirm.reply.startswith("CON KADFRE : Commencer la vérification. Note : -\n")
    assert done.state["node"] == "desk.done"
    assert done.reply.startswith("CON Enregistré. KADFRE : Commencer la vérification.\n")
    assert " ." not in confirm.reply and " ." not in done.reply


@pytest.mark.parametrize(
    ("inputs", "move"),
    [(("2", "1", "1", "1"), MoveCase("KADFRE", "verifying", "", None)),
     (("1", "1", "4", "1", "1"), MoveCase("KADURG", "referred", "", "police"))],
    ids=["done", "done-refer"],
)  # fmt: skip
def test_going_back_from_the_done_screen_cannot_move_the_case_twice(inputs, move):
    """After Valider, 0 then 1 does not yield a second MoveCase."""
    done = walk(PIN, *inputs)
    assert done.effects == (move,)
    again = walk("0", "1", start=done)
    assert not any(isinstance(e, MoveCase) for e in again.effects)
    assert again.state["node"] == "desk.list"
    # Neither back nor home leaves the done screen: only Mes dossiers does.
    for code in ("0", "00"):
        stay = walk(code, start=done)
        assert (stay.state["node"], stay.effects) == (done.state["node"], ())
        assert stay.reply == "CON Choix invalide.\n" + done.reply.removeprefix("CON ")


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
    shown = caller("1")
    assert shown.startswith(f"CON {reference} : non fondé.") and "1. Clore le dossier" in shown


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
