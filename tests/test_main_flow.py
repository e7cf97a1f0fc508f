"""The main journey with the real French copy: first contact, menu and account screens."""

from pathlib import Path

import pytest

import flows
from app.content import load, sample_context
from flows.effects import SetCallHour, SetLanguage, SetName
from flows.engine import MENU, Route
from flows.gsm import is_gsm7
from flows.main import NAME_MAX, parse_name

ROOT = Path(__file__).resolve().parent.parent
CATALOG, WARNINGS = load(ROOT / "content")
PHONE = "+22370000099"
CODE = "*123#"
PROFILE = {"name": "Awa Traoré", "role": "agent", "organisation": "RMCR", "lang": "fr"}
NAV = "0.Retour 00.Menu"
DIGITS = "le code à 6 chiffres"
MENU_SCREEN = (
    "CON Kalan - Menu principal\n1. Formation\n2. Signaler un enfant\n"
    "3. Urgence : danger immédiat\n4. Suivre un signalement\n5. Compte / Aide\n6. Quitter"
)
ACCOUNT = (
    "CON Mon compte / Aide\n1. Mon profil\n2. Mon nom\n3. Langue\n"
    "4. Comment utiliser Kalan\n5. Kalan, c'est quoi ?\n6. Appels de formation\n" + NAV
)
LANGUAGE = "CON Bienvenue sur Kalan.\nChoisissez votre langue :\n1. Francais"
CHOOSE_LANGUAGE = "CON Choisissez votre langue :\n1. Francais"
RESUME_OFFER = "CON Vous n'aviez pas terminé. Reprendre là où vous étiez ?"
NAME_PROMPT = "Entrez votre nom et prénom. Il figurera sur vos certificats :"
NAME_ERROR = "CON Nom invalide : 2 à 40 caractères, avec des lettres.\n" + NAME_PROMPT


def context(lang="fr", profile=PROFILE, resume=None) -> dict:
    """Return the context the webhook gives the flow."""
    return {
        "phone": PHONE,
        "code": CODE,
        "lang": lang,
        "profile": profile,
        "resume": resume,
        "languages": tuple(CATALOG.names.items()),
    }


def run(*inputs, ctx=None, limit=160):
    """Open a session, send each input, and return the last Step."""
    ctx = context() if ctx is None else ctx
    result = flows.step(flows.FLOW, None, None, ctx, CATALOG, limit)
    for text in inputs:
        result = flows.step(flows.FLOW, result.state, text, ctx, CATALOG, limit)
    return result


def test_content_loads_without_warnings():
    assert WARNINGS == []
    assert CATALOG.languages == ("fr",)


def test_flow_has_no_broken_links():
    assert flows.check(flows.FLOW, CATALOG) == []


@pytest.mark.parametrize(
    ("inputs", "node", "prefix"),
    [
        ((), MENU, MENU_SCREEN),
        (("1",), "training", "CON Formation\n1. Continuer\n2. Les modules"),
        (("2",), "r.sector", "CON Où travaille l'enfant ?"),
        (("3",), "r.emergency", "CON Appelez vite le 15 (santé), le 17 (police), le 18 (pompiers)"),
        (("4",), "track", f"CON Entrez la référence du signalement ({DIGITS}) :\n{NAV}"),
        (("5",), "account", ACCOUNT),
        (("7",), MENU, "CON Choix invalide.\nKalan - Menu principal"),
        (("1", "0"), MENU, MENU_SCREEN),
        (("5", "1"), "account.profile", "CON Numéro : " + PHONE + "\nNom : Awa Traoré\n"),
        (("5", "1", "0"), "account", ACCOUNT),
        (("5", "1", "00"), MENU, MENU_SCREEN),
        (("5", "2"), "account.name", "CON " + NAME_PROMPT + "\n" + NAV),
        (("5", "2", "0"), "account", ACCOUNT),
        (("5", "3"), "account.lang", CHOOSE_LANGUAGE + "\n" + NAV),
        (("5", "3", "1"), "account", ACCOUNT),
        (("5", "3", "1", "0"), MENU, MENU_SCREEN),  # the trail was cut back at account
        (("5", "4"), "help", "CON Kalan se lit écran par écran."),
        (("5", "4", "99"), "help", "CON principal. Si l'appel coupe, rappelez le *123#"),
        (("5", "5"), "about", "CON Kalan veut dire apprendre en bambara."),
        (("5", "5", "99", "99", "99"), "about", "CON Choix invalide."),
    ],
)
def test_conversation(inputs, node, prefix):
    result = run(*inputs)
    assert result.state["node"] == node
    assert result.reply.startswith(prefix)
    assert not result.end


def test_first_contact_asks_the_language_then_shows_the_menu():
    ctx = {**context(lang=None, profile={}), "complete": ("fr", "bm")}  # a choice to make
    first = run(ctx=ctx)
    assert first.reply == LANGUAGE
    chosen = run("1", ctx=ctx)
    assert chosen.reply == MENU_SCREEN
    assert chosen.state["lang"] == "fr"
    assert chosen.effects == (SetLanguage("fr"),)


def test_first_contact_with_one_complete_language_opens_on_the_menu_in_it():
    """No screen offers a single choice: the caller's language stays unset (French)."""
    ctx = {**context(lang=None, profile={}), "complete": CATALOG.complete}
    first = run(ctx=ctx)
    assert first.reply == MENU_SCREEN
    assert first.effects == () and first.state["lang"] is None


def test_changing_language_from_the_account_saves_it():
    result = run("5", "3", "1")
    assert result.effects == (SetLanguage("fr"),)
    assert result.state["lang"] == "fr"


def test_about_text_ends_on_its_last_page():
    last = run("5", "5", "99", "99")
    assert "OIT." in last.reply
    assert "99.Suite" not in last.reply


def test_help_shows_the_ussd_code():
    assert CODE in run("5", "4", "99").reply


def test_profile_of_a_known_agent():
    assert run("5", "1").reply == (
        f"CON Numéro : {PHONE}\nNom : Awa Traoré\nStatut : Agent de terrain\n"
        f"Organisation : RMCR\nLangue : Francais\n{NAV}"
    )


def test_profile_of_an_unknown_caller():
    assert run("5", "1", ctx=context(profile={})).reply == (
        f"CON Numéro : {PHONE}\nNom : non renseigné\nStatut : Membre de la communauté\n"
        f"Organisation : non renseigné\nLangue : non renseigné\n{NAV}"
    )


@pytest.mark.parametrize("limit", [160, 80])
def test_profile_with_copy_that_folds_longer_still_fits(limit):
    """'…' and 'œ' grow when folded to GSM-7; the profile screen must still fit."""
    profile = {**PROFILE, "organisation": "Œuvre œcuménique … " * 3, "name": "Œ" * 40}
    ctx = context(profile=profile)
    result = run("5", "1", ctx=ctx, limit=limit)
    while True:
        assert len(result.reply) <= limit
        assert is_gsm7(result.reply)
        if "99.Suite" not in result.reply:
            break
        result = flows.step(flows.FLOW, result.state, "99", ctx, CATALOG, limit)


def test_quitting_ends_the_session():
    result = run("6")
    assert result.end and result.state["node"] == "bye"
    assert result.reply == "END Merci d'avoir utilisé Kalan. Au revoir !"
    assert result.checkpoint == "clear"


@pytest.mark.parametrize(
    ("inputs", "checkpoint"),
    [((), "clear"), (("5",), "clear"), (("5", "5"), "clear"), (("5", "2"), "save")],
)
def test_only_a_task_half_done_is_a_resume_point(inputs, checkpoint):
    assert run(*inputs).checkpoint == checkpoint


def test_resume_is_offered_and_restores_the_screen():
    page = run("5", "5", "99")  # any screen can be restored, page included
    snapshot = {k: page.state[k] for k in ("node", "page", "back", "data")}
    ctx = context(resume=snapshot)
    offer = run(ctx=ctx)
    assert offer.reply.startswith(RESUME_OFFER)
    assert offer.reply.endswith("1. Reprendre\n2. Recommencer")  # no navigation offered
    assert run("1", ctx=ctx).reply == page.reply
    assert run("2", ctx=ctx).reply == MENU_SCREEN


@pytest.mark.parametrize(
    ("answer", "stored"),
    [
        ("Awa Traoré", "Awa Traoré"),
        ("  Moussa   Diarra ", "Moussa Diarra"),
        ("Aïssata Maïga", "Aissata Maiga"),
        ("Françoise", "Francoise"),
        ("Awa*Traore", "Awa Traore"),  # keypad users type * or # for a space
        ("Awa#Traore", "Awa Traore"),
        ("N'Golo Kanté", "N'Golo Kanté"),
    ],
)
def test_name_is_accepted_folded_and_thanked(answer, stored):
    result = run("5", "2", answer)
    assert result.state["node"] == "account.name_done"
    assert result.state["data"]["name"] == stored
    assert result.effects == (SetName(stored),)
    assert result.reply == f"END Merci {stored}, votre nom est enregistré."
    assert is_gsm7(result.reply)
    assert result.end


@pytest.mark.parametrize("answer", ["", "1", "x" * 41, "A", "12 34", "😀😀"])
def test_name_is_refused(answer):
    result = run("5", "2", answer)
    assert result.state["node"] == "account.name"
    assert "name" not in result.state["data"]
    assert result.effects == ()
    assert result.reply == f"{NAME_ERROR}\n{NAV}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Awa Traoré", "Awa Traoré"),
        ("  Awa \t Traoré  ", "Awa Traoré"),
        ("Aïssata Maïga", "Aissata Maiga"),
        ("Françoise", "Francoise"),
        ("Œdipe", "OEdipe"),
        ("Jo", "Jo"),
        ("x" * NAME_MAX, "x" * NAME_MAX),
        ("x" * 39 + "ê", "x" * 39 + "e"),
        ("œ" * 20, "oe" * 20),
        ("œ" * 21, None),  # too long once folded
        ("x" * (NAME_MAX + 1), None),
        ("", None),
        ("   ", None),
        ("A", None),
        ("1", None),
        ("12345", None),
        ("--", None),
        ("😀😀", None),  # folds to "??": no letter
        ("a😀", None),  # a character that folds to "?" has no place in a name
        ("Tra+oré", None),
        ("Awa 2", None),
    ],
)
def test_parse_name(text, expected):
    assert parse_name(text) == expected


def test_every_node_has_screens():
    shown = {
        node
        for node, _, _ in flows.screens(flows.FLOW, CATALOG, sample_context(CATALOG, CODE), 160)
    }
    assert shown == {node for node, n in flows.FLOW.items() if not isinstance(n, Route)}


@pytest.mark.parametrize("limit", [160, 100, 80])
def test_every_screen_fits(limit):
    ctx = sample_context(CATALOG, CODE)
    replies = list(flows.screens(flows.FLOW, CATALOG, ctx, limit))
    assert replies
    for node, lang, reply in replies:
        assert len(reply) <= limit, (node, lang, reply)
        assert reply[:4] in ("CON ", "END "), (node, lang, reply)
        assert is_gsm7(reply), (node, lang, reply)
        assert "..." not in reply, (node, lang, reply)  # nothing had to be cut


@pytest.mark.parametrize("limit", [160, 100])
@pytest.mark.parametrize(
    ("inputs", "key"), [(("5", "4"), "help.navigation"), (("5", "5"), "help.about")]
)
def test_long_help_texts_page_without_losing_words(limit, inputs, key):
    ctx = context()
    result, shown = run(*inputs, limit=limit), []
    while True:
        assert len(result.reply) <= limit
        body, nav = result.reply[len("CON ") :].rsplit("\n", 1)
        shown.append(body)
        if "99.Suite" not in nav:
            break
        result = flows.step(flows.FLOW, result.state, "99", ctx, CATALOG, limit)
    assert len(shown) > 1
    expected = CATALOG.get(key, code=CODE)
    assert " ".join(shown).split() == expected.split()


@pytest.mark.parametrize(("key", "effect"), [("1", SetCallHour(8)), ("4", SetCallHour(18)),
                                             ("5", SetCallHour(None))])  # fmt: skip
def test_an_agent_chooses_lesson_calls_and_a_community_member_cannot(key, effect):
    result = run("5", "6", key)
    assert result.end and result.effects == (effect,)
    assert run("5", "6", ctx=context(profile={})).reply.startswith("CON Choix invalide.")
