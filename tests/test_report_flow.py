"""The report journey as a pure flow, with the real French copy: its questions, lengths and copy."""

from pathlib import Path

import pytest

import flows
from app.content import load
from flows import main, report
from flows.effects import OpenCase
from flows.engine import MENU, layout, new_state

ROOT = Path(__file__).resolve().parent.parent
CATALOG, _ = load(ROOT / "content")
CODE = "*123#"
REFERENCE = "482913"
CTX = {"code": CODE, "lang": "fr", "profile": {}, "reference": REFERENCE, "reports_today": 0,
       "report_limit": 3, "languages": tuple(CATALOG.names.items())}  # fmt: skip
NAV = "0.Retour 00.Menu"
NUMBERS = ("CON Appelez vite le 15 (santé), le 17 (police), le 18 (pompiers) ou la gendarmerie, "
           "80 00 11 14 (gratuit).\n1. Continuer le signalement\n" + NAV)  # fmt: skip
NOW = "CON Danger maintenant ? L'enfant est-il menacé en ce moment ?\n1. Oui\n2. Non\n" + NAV
CONTACT = ("CON Peut-on vous rappeler ? Seulement si un appel ici est sans risque. "
           "Un SMS reste visible.\n1. Oui, sans SMS\n2. Non, anonyme\n3. Oui, avec SMS\n"
           + NAV)  # fmt: skip

# Mining, Sikasso/Kadiolo, a site, 2-5 children, 13-14, girls, not in school: up to the danger.
BEFORE = ("1", "1", "2", "Massiogo", "2", "2", "1", "2")
# The danger by its number on the list.
PITS, COLLAPSE, MERCURY, NIGHT, VIOLENCE, TRAFFICKING, OTHER = "1", "2", "3", "8", "9", "10", "11"
CALL, ANONYMOUS, SMS, SEND = "1", "2", "3", "1"


def run(*inputs):
    """Open a session at the main menu, send each input, and return the last Step."""
    result = flows.step(flows.FLOW, None, None, CTX, CATALOG, 160)
    for text in inputs:
        result = flows.step(flows.FLOW, result.state, text, CTX, CATALOG, 160)
    return result


def filed(*inputs) -> dict:
    """Walk a report to its end and return the answers it files."""
    result = run(*inputs)
    assert result.end and result.reply.startswith(f"END Merci. Référence : {REFERENCE}.")
    (opened,) = [e for e in result.effects if isinstance(e, OpenCase)]
    return dict(opened.answers)


@pytest.mark.parametrize(
    ("inputs", "node", "reply"),
    [
        # Only a danger that may be happening now asks whether it is.
        (("2", *BEFORE, PITS), "r.now", NOW),
        (("2", *BEFORE, COLLAPSE), "r.now", NOW),
        (("2", *BEFORE, VIOLENCE), "r.now", NOW),
        (("2", *BEFORE, TRAFFICKING), "r.now", NOW),
        (("2", *BEFORE, MERCURY), "r.contact", CONTACT),
        (("2", *BEFORE, NIGHT), "r.contact", CONTACT),
        (("2", *BEFORE, OTHER), "r.contact", CONTACT),
        # A yes shows the emergency numbers, then goes on; a no goes straight on.
        (("2", *BEFORE, PITS, "1"), "r.now.call", NUMBERS),
        (("2", *BEFORE, PITS, "1", "1"), "r.contact", CONTACT),
        (("2", *BEFORE, PITS, "2"), "r.contact", CONTACT),
        (("2", *BEFORE, PITS, "1", "1", "0"), "r.now.call", NUMBERS),
        # The urgent door has shown the numbers already: no question.
        (("3", "1", *BEFORE, PITS), "r.contact", CONTACT),
        (("3",), "r.emergency", NUMBERS),
    ],
)
def test_the_danger_now_question(inputs, node, reply):
    result = run(*inputs)
    assert (result.state["node"], result.reply) == (node, reply)


@pytest.mark.parametrize(
    ("door", "danger", "urgent", "answers"),
    [
        (("2",), (MERCURY,), False, 12),  # no danger now possible: 12 answers, as before
        (("2",), (OTHER,), False, 12),
        (("2",), (PITS, "2"), False, 13),  # not now
        (("2",), (VIOLENCE, "1", "1"), True, 14),  # now: the question, then the numbers
        (("2",), (TRAFFICKING, "1", "1"), True, 14),
        (("3", "1"), (PITS,), True, 13),  # the urgent door, past its numbers
        (("3", "1"), (MERCURY,), True, 13),
    ],
)
def test_each_report_files_its_urgency_within_its_length(door, danger, urgent, answers):
    inputs = (*door, *BEFORE, *danger, ANONYMOUS, SEND)
    assert len(inputs) == answers
    assert filed(*inputs)["urgent"] is urgent


@pytest.mark.parametrize(
    ("again", "urgent"),
    [
        ((MERCURY,), False),  # a danger that cannot be now: the yes no longer counts
        ((PITS, "2"), False),  # asked again, and now a no
        ((COLLAPSE, "1", "1"), True),
    ],
)
def test_changing_the_danger_after_a_yes_changes_the_urgency(again, urgent):
    # A yes about violence, then back from the contact screen to the list of dangers.
    inputs = ("2", *BEFORE, VIOLENCE, "1", "1", "0", "0", "0", *again, ANONYMOUS, SEND)
    assert filed(*inputs)["urgent"] is urgent


@pytest.mark.parametrize(
    ("contact", "contactable", "receipt"),
    [(CALL, True, False), (ANONYMOUS, False, False), (SMS, True, True)],
)
def test_the_options_without_an_sms_come_first(contact, contactable, receipt):
    answers = filed("2", *BEFORE, MERCURY, contact, SEND)
    assert (answers["contactable"], answers["receipt"]) == (contactable, receipt)


# Mining, Sikasso/Kadiolo, a site, then the number of children: up to the sex question.
TO_SEX = ("2", "1", "1", "2", "Massiogo")


@pytest.mark.parametrize(
    ("children", "prompt", "options"),
    [
        ("1", "Une fille ou un garcon ?", ("1. Une fille", "2. Un garcon", "3. Je ne sais pas")),
        (
            "2",
            "Filles ou garcons ?",
            ("1. Filles", "2. Garcons", "3. Les deux", "4. Je ne sais pas"),
        ),
        (
            "3",
            "Filles ou garcons ?",
            ("1. Filles", "2. Garcons", "3. Les deux", "4. Je ne sais pas"),
        ),
    ],
)
def test_les_deux_is_offered_only_for_more_than_one_child(children, prompt, options):
    result = run(*TO_SEX, children, "1")  # then any age
    assert result.state["node"] == "r.sex"
    assert result.reply.split("\n")[0] == "CON " + prompt  # one child: the singular
    assert tuple(result.reply.split("\n")[1:-1]) == options


@pytest.mark.parametrize(
    ("children", "age", "school"),
    [
        ("1", "Quel age a l'enfant, environ ?", "L'enfant va-t-il à l'école ?"),
        ("2", "Quel age ont-ils environ ?", "Vont-ils à l'école ?"),
    ],
)
def test_the_questions_about_the_children_agree_with_their_number(children, age, school):
    assert run(*TO_SEX, children).reply.startswith(f"CON {age}\n")
    assert run(*TO_SEX, children, "1", "1").reply.startswith(f"CON {school}\n")


def test_one_child_of_unknown_sex_files_unknown():
    answers = filed(*TO_SEX, "1", "2", "3", "2", MERCURY, ANONYMOUS, SEND)
    assert (answers["children"], answers["sex"]) == ("one", "unknown")


def test_the_end_says_where_to_follow_the_report():
    result = run("2", *BEFORE, MERCURY, ANONYMOUS, SEND)
    assert result.reply == f"END Merci. Référence : {REFERENCE}. Notez-la. Suivi : {CODE}, choix 4."


def test_the_sms_and_the_end_name_the_lookups_number_on_the_main_menu():
    """ "choix 4" is written in the copy: it must be where the main menu puts the lookup."""
    number = 1 + [option.to for option in main.NODES[MENU].options].index("track")
    assert all(option.show is None for option in main.NODES[MENU].options[:number])
    assert run(str(number)).state["node"] == "track"
    for key in ("sms.receipt", "report.done"):
        assert CATALOG.get(key).endswith(f"$code, choix {number}.")


def test_the_site_question_asks_for_no_persons_name():
    assert run("2", "1", "1", "2").reply.startswith(
        "CON Nom du village ou du site, pas de nom de personne (facultatif)."
    )


def summary(limit=160, **data) -> list:
    """Return the pages of the summary screen for this session data."""
    state = {**new_state("fr"), "node": "r.confirm", "back": [[MENU, 0]], "data": data}
    return layout(flows.FLOW["r.confirm"], state, CTX, CATALOG, limit).pages


BASE = {"sector": "mining", "region": "sikasso", "cercle": "kadiolo", "age": "13to14",
        "school": "no", "hazard": "mercury", "urgent": False}  # fmt: skip


@pytest.mark.parametrize(
    ("data", "text"),
    [
        # The singular for one child, the plural for more; sex and school shown.
        ({"children": "one", "sex": "girls"},
         "Orpaillage, Kadiolo. 1 fille, 13 ou 14 ans, pas à l'école. Danger : Mercure / produits."),
        ({"children": "one", "sex": "unknown", "school": "yes"},
         "Orpaillage, Kadiolo. 1 enfant, 13 ou 14 ans, à l'école. Danger : Mercure / produits."),
        ({"children": "few", "sex": "boys", "place": "Massiogo"},
         "Orpaillage, Kadiolo (Massiogo). 2 à 5 garcons, 13 ou 14 ans, pas à l'école. "
         "Danger : Mercure / produits."),
        ({"children": "many", "sex": "both", "age": "unknown", "school": "unknown"},
         "Orpaillage, Kadiolo. Plus de 5 filles et garcons, age inconnu, école inconnue. "
         "Danger : Mercure / produits."),
        # Urgent by a danger now; a cercle not known names the region, or no place.
        ({"children": "one", "sex": "boys", "hazard": "pits", "now": True, "cercle": "unknown"},
         "Orpaillage, Sikasso. 1 garcon, 13 ou 14 ans, pas à l'école. "
         "Danger : Puits / sous terre. URGENT."),
        ({"children": "few", "sex": "girls", "region": None, "cercle": None},
         "Orpaillage, lieu inconnu. 2 à 5 filles, 13 ou 14 ans, pas à l'école. "
         "Danger : Mercure / produits."),
    ],
)  # fmt: skip
def test_the_summary(data, text):
    (page,) = summary(**{**BASE, **data})
    assert page.text == text and page.options == ("1. Envoyer", "2. Annuler")


@pytest.mark.parametrize("data", report.samples()["r.confirm"])
def test_envoyer_and_annuler_stay_on_the_first_page_of_any_summary(data):
    pages = summary(**data)
    assert all(page.options == ("1. Envoyer", "2. Annuler") for page in pages)
    (whole,) = summary(limit=1000, **data)  # on a screen without bounds
    assert " ".join(page.text for page in pages) == whole.text and "(-)" not in whole.text


def test_the_unknown_region_forgets_a_cercle_chosen_before():
    # Sikasso, Kadiolo, then back twice to the regions: "Autre / je ne sais pas".
    result = run("2", "1", "1", "2", "0", "0", "4")
    assert result.state["node"] == "r.place"
    assert (result.state["data"]["region"], result.state["data"]["cercle"]) == (None, None)


@pytest.mark.parametrize(
    ("typed", "reference"),
    [
        ("482913", "482913"),
        (" 482 913 ", "482913"),
        ("acd479", "ACD479"),  # drawn before references were digits only
        ("ACD479", "ACD479"),
        ("48291", None),
        ("4829130", None),
        ("48-913", None),
        ("٤٨٢٩١٣", None),  # digits, but not the ones a reference is made of
        ("", None),
    ],
)
def test_parse_reference(typed, reference):
    assert report.parse_reference(typed) == reference


def test_every_cercle_is_read_by_its_code_or_its_name_however_typed():
    """A cercle's name as the content spells it, in any case, with or without accents, is its."""
    for code in report.CERCLES:
        name = CATALOG.get(f"report.cercle.{code}")
        for typed in (code, name, name.upper(), f"  {name.lower()} "):
            assert report.cercle_code(typed) == code, typed
    assert report.cercle_code("Kolondieba") == report.cercle_code("KOLONDIÉBA") == "kolondieba"
    assert report.cercle_code("M Pessoba") == "mpessoba"
    for typed in ("Kati", "unknown", "Autre / je ne sais pas", "", None, "Kadiolo Kadiolo"):
        assert report.cercle_code(typed) is None, typed
