"""The desk flow alone, with hand-made context: the PIN check, the case screens and the moves."""

import json
from pathlib import Path

import pytest

import flows
from app.content import load
from flows.desk import FOLLOW_UP, SAMPLE, SERVICES, parse_note, parse_pin
from flows.effects import MoveCase
from flows.engine import MENU, layout

from .test_desk import AGENT, PIN

# --- the desk flow alone, with hand-made context -------------------------------------------------

CATALOG, _ = load(Path(__file__).resolve().parent.parent / "content")
LIMIT = 160
OK = {"result": "ok", "left": 5, "wait": 0}
CASE_CALM = {**SAMPLE, "reference": "KADFRE", "status": "new", "urgent": False,
             "region": "sikasso", "cercle": "kadiolo", "place": "Massiogo", "sector": "mining",
             "children": "few", "sex": "boys", "age": "13to14", "hazard": "pits",
             "reports": 2, "due": "05/03 08h00", "next": ["verifying"]}  # fmt: skip
# No known cercle: the desk names the region.
CASE_URGENT = {**CASE_CALM, "reference": "KADURG", "urgent": True, "place": None,
               "status": "confirmed", "cercle": "unknown", "next": ["referred"]}  # fmt: skip
DESK = {"role": "agent", "cases": [CASE_URGENT, CASE_CALM]}
STATUS = {"new": "nouveau", "verifying": "en vérification", "confirmed": "confirmé",
          "unfounded": "non fondé", "referred": "référé", "following": "en suivi",
          "closed": "clos"}  # fmt: skip


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
    assert shown.reply.startswith(f"CON KADFRE : {STATUS[status]}. Échéance : 05/03 08h00. ")
    assert "Danger : Puits / sous terre. 2 à 5 garcons, 13 ou 14 ans. Orpaillage, Kadiolo" in (
        shown.reply
    )
    assert layout(flows.FLOW["desk.case"], shown.state, ctx, CATALOG, LIMIT).lines == lines
    reached = [walk(str(n), ctx=ctx, start=shown).state["node"] for n in range(1, len(steps) + 1)]
    assert reached == targets


def test_a_case_gone_from_the_desk_offers_nothing():
    """A case no longer on the desk says so and has no options."""
    shown = walk(PIN, "2")
    gone = walk("1", ctx=context(cases={"role": "agent", "cases": [CASE_URGENT]}), start=shown)
    assert gone.state["node"] == "desk.case"
    assert (
        gone.reply == "CON Choix invalide.\nKADFRE : n'est plus sur votre liste.\n0.Retour 00.Menu"
    )
    assert gone.effects == ()


def read_case(case: dict, limit: int = LIMIT) -> tuple[list[str], str]:
    """Open a case on the desk and page through it; return its replies and its text."""
    ctx = context(cases={"role": "agent", "cases": [case]})
    shown = flows.step(flows.FLOW, walk(PIN, ctx=ctx).state, "1", ctx, CATALOG, limit)
    replies = [shown.reply]
    while "99.Suite" in replies[-1]:
        shown = flows.step(flows.FLOW, shown.state, "99", ctx, CATALOG, limit)
        replies.append(shown.reply)
    options = layout(flows.FLOW["desk.case"], shown.state, ctx, CATALOG, limit).lines
    chrome = {*options, "99.Suite 0.Retour 00.Menu", "0.Retour 00.Menu"}
    lines = [line for r in replies for line in r.removeprefix("CON ").split("\n")]
    return replies, " ".join(line for line in lines if line not in chrome)


@pytest.mark.parametrize(
    ("case", "text"),
    [
        ({**CASE_CALM, "children": "one", "sex": "girls", "age": "under13", "sector": "cotton",
          "reports": 1},
         "KADFRE : nouveau. Échéance : 05/03 08h00. Danger : Puits / sous terre. 1 fille, "
         "moins de 13 ans. Coton, Kadiolo, Massiogo."),
        ({**CASE_CALM, "children": "few", "sex": "both", "age": "15to17", "sector": "domestic",
          "hazard": "loads", "cercle": "unknown", "place": None},
         "KADFRE : nouveau. Échéance : 05/03 08h00. Danger : Charges lourdes. 2 à 5 filles et "
         "garcons, 15 à 17 ans. Travail domestique, Sikasso. Signalements : 2."),
        # Nothing due (an unfounded case), urgent, many children of unknown sex and age.
        ({**CASE_CALM, "status": "unfounded", "urgent": True, "due": "", "children": "many",
          "sex": "unknown", "age": "unknown", "sector": "street", "hazard": "night",
          "reports": 3, "next": ["closed"]},
         "KADFRE URGENT : non fondé. Danger : Nuit / longues heures. Plus de 5 enfants, "
         "age inconnu. Commerce / rue, Kadiolo, Massiogo. Signalements : 3."),
    ],
    ids=["one-girl", "few-both-region", "unfounded-urgent"],
)  # fmt: skip
def test_the_case_screen_tells_what_the_report_said(case, text):
    """Sector, children, age band and danger, in the report's words; paged, nothing lost."""
    replies, read = read_case(case)
    assert read == text
    assert all(len(reply) <= LIMIT for reply in replies)


def test_a_case_without_its_answers_still_shows():
    """A case missing the report's answers shows with the report's own fallbacks."""
    bare = {**CASE_CALM, **dict.fromkeys(("sector", "children", "sex", "age", "hazard")),
            "place": None, "reports": None}  # fmt: skip
    _, read = read_case(bare)
    assert read == ("KADFRE : nouveau. Échéance : 05/03 08h00. Danger : Autre. 1 enfant, "
                    "age inconnu. Autre travail, Kadiolo.")  # fmt: skip


@pytest.mark.parametrize("children", ["one", "few", "many"])
@pytest.mark.parametrize("sex", ["girls", "boys", "both", "unknown"])
@pytest.mark.parametrize("age", ["under13", "13to14", "15to17", "unknown"])
def test_every_case_screen_fits_and_loses_nothing(children, sex, age):
    """The longest cases page within 160 characters and read whole, options at the end."""
    case = {**SAMPLE, "children": children, "sex": sex, "age": age}
    replies, read = read_case(case)
    _, whole = read_case(case, limit=10_000)  # the same case on one endless screen
    assert read == whole and " Danger : Traite / travail forcé. " in read
    assert all(len(reply) <= LIMIT for reply in replies)
    shown = "\n".join(replies)  # the options come after the whole text
    assert shown.index("Signalements : 999.") < shown.index("1. Noter une visite de suivi")
    assert replies[-1].endswith("2. Clore le dossier\n0.Retour 00.Menu")


@pytest.mark.parametrize(
    ("status", "to", "inputs", "done"),
    [
        ("new", "verifying", ("1",), "en vérification."),
        ("verifying", "confirmed", ("1",), "confirmé."),
        ("verifying", "unfounded", ("1",), "non fondé."),
        ("confirmed", "referred", ("3", "1"), "référé : Santé."),
        ("referred", "following", ("1",), "en suivi."),
        ("referred", FOLLOW_UP, ("1",), "en suivi."),  # a visit puts a referred case in follow-up
        ("following", FOLLOW_UP, ("1",), "en suivi."),
        ("following", "closed", ("1",), "clos."),
        ("unfounded", "closed", ("1",), "clos."),
    ],
)  # fmt: skip
def test_the_saved_screen_names_the_new_state(status, to, inputs, done):
    """After Valider, the case's new state, not the label of the step taken."""
    case = {**CASE_CALM, "status": status, "next": [to]}
    ctx = context(cases={"role": "agent", "cases": [case]})
    saved = walk(PIN, "1", "1", *inputs, "1", ctx=ctx)
    assert saved.reply == f"CON Enregistré. KADFRE : {done}\n1. Mes dossiers"
    assert saved.effects == (MoveCase("KADFRE", to, "", "health" if to == "referred" else None),)


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
         "Enregistré. KADFRE : en vérification."),
        (("1", "1", "4", "Au commissariat"),
         "KADURG : Référer à un service : Police / gendarmerie. Note : Au commissariat",
         "Enregistré. KADURG : référé : Police / gendarmerie."),
        (("1", "1", "1", "1"),
         "KADURG : Référer à un service : Service social / promotion de l'enfant. Note : -",
         "Enregistré. KADURG : référé : Service social / promotion de l'enfant."),
        *((("1", "1", number, "1"),
           f"KADURG : Référer à un service : {label}. Note : -",
           f"Enregistré. KADURG : référé : {label}.")
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
    assert done.reply.startswith("CON Enregistré. KADFRE : en vérification.\n")
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
