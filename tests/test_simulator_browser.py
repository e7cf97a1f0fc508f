"""The phone simulator in a real browser: every sentence it shows, word for word.

The words come from sandbox/content/; these tests pin what a developer reads on the page, so
a word lost on the way from the file to the screen fails here. Chromium as for the console.
"""

import re
import time

import pytest
from werkzeug.wrappers import Request, Response

from sandbox import create_app
from sandbox.sms_store import Outgoing

from .conftest import needs_chromium, serve, shot

pytestmark = needs_chromium

PHONE, SLOW_PHONE = "+22370000001", "+22370000009"
MENU = "Etape 0\n1. Suite\n0. Quitter"
LONG = "ê" + "a" * 160  # over the limit, and outside GSM-7
# The stand-in for Kalan's answer to each hop's text: (body, HTTP status).
SCREENS = {
    "": ("CON " + MENU, 200),
    "1": ("CON " + LONG, 200),
    "0": ("END Au revoir", 200),
    "2": ("END X", 200),
    "3": ("Bonjour", 200),
    "4": ("Oups", 500),
}
SLOW_S = 1.5  # long enough to read the "in progress" line


def kalan(environ, start_response):
    """Stand in for Kalan: scripted screens; SMS taken unless they say PANNE; SLOW_PHONE waits."""
    request = Request(environ)
    form = request.form
    if form.get("phoneNumber") == SLOW_PHONE or form.get("text") == "LENT":
        time.sleep(SLOW_S)
    if request.path == "/ussd":
        body, status = SCREENS.get(form["text"], ("END Au revoir", 200))
    elif request.path == "/sms/inbound" and form["text"] == "PANNE":
        body, status = "", 500
    else:
        body, status = "OK", 200
    return Response(body, status, content_type="text/plain")(environ, start_response)


@pytest.fixture
def site():
    """Serve the sandbox, dialling the stand-in; yield its URL and app."""
    with serve(kalan) as kalan_url:
        app = create_app({"KALAN_URL": kalan_url, "SANDBOX_USSD_DEADLINE_S": 5.0})
        with serve(app) as url:
            yield url, app


def text(browser, element_id: str) -> str:
    """Return an element's text exactly as the page wrote it."""
    return browser.find_element("id", element_id).get_attribute("textContent")


def until(browser, element_id: str, expected: str) -> None:
    """Wait until the element says expected."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(browser, 10).until(lambda _: text(browser, element_id) == expected)
    except TimeoutException:
        assert text(browser, element_id) == expected  # shows what it says instead
        raise


def items(browser, list_id: str) -> list[str]:
    """Return the texts of a list's items, in page order."""
    found = browser.find_elements("css selector", f"#{list_id} li")
    return [item.get_attribute("textContent") for item in found]


def dial(browser, phone: str = PHONE) -> None:
    field = browser.find_element("id", "phone")
    field.clear()
    field.send_keys(phone)
    browser.find_element("id", "dial").click()


def answer(browser, value: str) -> None:
    browser.find_element("id", "answer").send_keys(value)
    browser.find_element("id", "send").click()


def test_the_page_before_any_call(browser, site):
    url, _ = site
    browser.get(url + "/")
    assert browser.title == "Kalan · simulateur USSD et SMS"
    assert browser.find_element("tag name", "html").get_attribute("lang") == "fr"
    sections = browser.find_elements("tag name", "section")
    assert [s.get_attribute("aria-label") for s in sections] == [
        "Téléphone",
        "Journal des échanges",
        "Appel vocal",
        "Ce que dit Kalan",
        "SMS",
    ]
    shown = {
        "h1": "Simulateur USSD",
        ".phone .intro": (
            "Ce téléphone appelle Kalan comme le ferait Africa's Talking, sans réseau."
        ),
        "label[for=phone]": "Numéro de téléphone",
        "#dial": "Composer *123#",
        "label[for=answer]": "Votre réponse",
        "#send": "Envoyer",
        "#hangup": "Raccrocher",
        "#status": "Prêt à composer.",
        ".log h2": "Journal des échanges",
        ".sms h2": "SMS",
        "label[for=sms-text]": "Envoyer un SMS à Kalan",
        "#sms-send": "Envoyer le SMS",
    }
    for selector, words in shown.items():
        element = browser.find_element("css selector", selector)
        assert element.get_attribute("textContent") == words, selector
    until(browser, "sms-intro", f"Messages reçus de Kalan sur le {PHONE}.")
    assert items(browser, "sms-inbox") == ["Aucun SMS reçu pour l'instant."]
    shot(browser, "simulator-01-ready")


def test_a_call_from_menu_to_hangup(browser, site):
    url, _ = site
    browser.get(url + "/")
    dial(browser)
    until(browser, "status", "Kalan attend votre réponse.")
    assert text(browser, "screen") == MENU
    assert text(browser, "length") == f"{len(MENU)} caractères sur 160"
    assert items(browser, "log") == ["Kalan" + MENU, f"Appel de {PHONE}"]
    answer(browser, "1")
    until(browser, "screen", LONG)
    assert text(browser, "length") == "161 caractères sur 160"
    assert items(browser, "warnings") == [
        "Écran trop long : 161 caractères, la limite est 160.",
        "Caractères hors de l'alphabet GSM 03.38 : ê",
    ]
    assert items(browser, "log")[:2] == ["Kalan" + LONG, "Vous1"]
    shot(browser, "simulator-02-warnings")
    browser.find_element("id", "hangup").click()
    until(browser, "status", "Vous avez raccroché.")
    assert items(browser, "log")[0] == "Vous avez raccroché."
    assert (text(browser, "screen"), text(browser, "length"), items(browser, "warnings")) == (
        "",
        "",
        [],
    )


@pytest.mark.parametrize(
    ("reply", "length", "status", "error"),
    [
        ("0", "9 caractères sur 160", "Session terminée.", False),
        ("2", "1 caractère sur 160", "Session terminée.", False),
        (
            "3",
            "",
            "Erreur : la réponse de Kalan ne commence pas exactement par « CON » ou « END ».",
            True,
        ),
        ("4", "", "Erreur : Kalan a répondu avec le code HTTP 500.", True),
    ],
)
def test_how_a_call_ends(browser, site, reply, length, status, error):
    url, _ = site
    browser.get(url + "/")
    dial(browser)
    until(browser, "status", "Kalan attend votre réponse.")
    answer(browser, reply)
    until(browser, "status", status)
    assert text(browser, "length") == length
    assert ("error" in browser.find_element("id", "status").get_attribute("class")) == error
    if error:
        assert items(browser, "log")[0] == status


def test_the_lines_shown_while_waiting(browser, site):
    url, _ = site
    browser.get(url + "/")
    dial(browser, SLOW_PHONE)
    assert text(browser, "status") == "Appel en cours…"
    until(browser, "status", "Kalan attend votre réponse.")
    answer(browser, "0")
    assert text(browser, "status") == "Envoi en cours…"
    until(browser, "status", "Session terminée.")
    browser.find_element("id", "sms-text").send_keys("LENT")
    browser.find_element("id", "sms-send").click()
    assert text(browser, "sms-status") == "Envoi du SMS…"
    until(browser, "sms-status", "SMS remis à Kalan par Africa's Talking (n° 1).")


@pytest.mark.parametrize(
    ("phone", "status", "intro"),
    [
        (
            "7000",
            "Erreur : numéro invalide, écrivez-le au format +22370000001.",
            "Indiquez un numéro valide pour voir ses SMS.",
        ),
        (
            "+223 70 00 00 02",
            "Kalan attend votre réponse.",
            "Messages reçus de Kalan sur le +22370000002.",
        ),
    ],
)
def test_the_phone_number(browser, site, phone, status, intro):
    url, _ = site
    browser.get(url + "/")
    dial(browser, phone)
    until(browser, "status", status)
    until(browser, "sms-intro", intro)


def test_an_idle_call_expires(browser, site):
    url, app = site
    browser.get(url + "/")
    dial(browser)
    until(browser, "status", "Kalan attend votre réponse.")
    app.config["SANDBOX_USSD_IDLE_S"] = 0  # any wait is too long now
    answer(browser, "1")
    expected = "Erreur : session expirée : vous êtes resté trop longtemps sans répondre."
    until(browser, "status", expected)
    assert items(browser, "log")[0] == expected


@pytest.mark.parametrize(
    ("sent", "status"),
    [
        ("AIDE", "SMS remis à Kalan par Africa's Talking (n° 1)."),
        ("PANNE", "SMS non remis : Kalan a répondu avec le code HTTP 500."),
        ("  ", "Erreur : écrivez un message."),
    ],
)
def test_sending_an_sms(browser, site, sent, status):
    url, _ = site
    browser.get(url + "/")
    browser.find_element("id", "sms-text").send_keys(sent)
    browser.find_element("id", "sms-send").click()
    until(browser, "sms-status", status)
    is_error = "error" in browser.find_element("id", "sms-status").get_attribute("class")
    assert is_error == (status != "SMS remis à Kalan par Africa's Talking (n° 1).")


# Each delivery status as AT reports it, and how the inbox words it.
STATUSES = {
    "Success": "remis",
    "Sent": "envoyé",
    "Submitted": "transmis à l'opérateur",
    "Buffered": "en attente chez l'opérateur",
    "Rejected": "rejeté",
    "Failed": "échec de remise",
    "AbsentSubscriber": "abonné injoignable",
    "Expired": "expiré",
    "Queued": "Queued",  # unforeseen: shown as it came
}
FAILED = {"Rejected", "Failed", "AbsentSubscriber", "Expired"}
# Each provider a message may come through, and how the inbox names it.
PROVIDERS = [("africastalking", "Africa's Talking"), ("orange", "Orange"), ("infobip", "Infobip")]


def test_the_inbox_words_each_delivery_status(browser, site):
    url, app = site
    app.extensions["sms_store"].add_sent(
        [
            Outgoing(
                PHONE,
                f"Message {n}",
                "KALAN",
                f"m{n}",
                parts=n,
                cost="0",
                status=status,
                provider=PROVIDERS[n % 3][0],
            )  # fmt: skip
            for n, status in enumerate(STATUSES, start=1)
        ]
    )
    browser.get(url + "/")
    until(browser, "sms-intro", f"Messages reçus de Kalan sur le {PHONE}.")
    shown = browser.find_elements("css selector", "#sms-inbox li")
    assert len(shown) == len(STATUSES)
    for n, (item, (status, words)) in enumerate(zip(shown, STATUSES.items(), strict=True), 1):
        parts = "1 partie" if n == 1 else f"{n} parties"
        carrier = re.escape(PROVIDERS[n % 3][1])
        meta = rf"\d\d:\d\d:\d\d · de KALAN par {carrier} · {re.escape(words)} · {parts}"
        assert re.fullmatch(meta + f"Message {n}", item.get_attribute("textContent")), status
        assert ("failed" in item.get_attribute("class")) == (status in FAILED), status
    shot(browser, "simulator-03-inbox")


# What the page says of each code the sandbox may answer.
ERRORS = {
    "Response should start with a CON or an END": (
        "la réponse de Kalan ne commence pas exactement par « CON » ou « END »."
    ),
    "Request timed out": "Kalan n'a pas répondu à temps.",
    "Connection refused": "Kalan est injoignable (connexion refusée).",
    "Connection failed": "Kalan est injoignable.",
    "unknown_session": "cette session est inconnue ou déjà terminée.",
    "session_expired": "session expirée : vous êtes resté trop longtemps sans répondre.",
    "bad_json": "requête mal formée.",
    "bad_phone": "numéro invalide, écrivez-le au format +22370000001.",
    "missing_phone": "indiquez un numéro de téléphone.",
    "missing_sessionId": "aucune session en cours.",
    "missing_input": "la réponse est manquante.",
    "missing_from": "indiquez un numéro de téléphone.",
    "missing_text": "écrivez un message.",
    "HTTP 502": "Kalan a répondu avec le code HTTP 502.",
    "Request failed: SSLError": "Request failed: SSLError",  # unforeseen: shown as it came
}


def test_the_page_words_every_error(browser, site):
    url, _ = site
    browser.get(url + "/")
    said = {code: browser.execute_script("return describe(arguments[0]);", code) for code in ERRORS}
    assert said == ERRORS


def test_the_page_says_when_the_sandbox_is_gone(browser):
    with serve(create_app({"KALAN_URL": "http://127.0.0.1:1"})) as gone:
        browser.get(gone + "/")
        until(browser, "status", "Prêt à composer.")
    dial(browser)
    until(browser, "status", "Erreur : le bac à sable ne répond pas.")
    browser.find_element("id", "sms-text").send_keys("AIDE")
    browser.find_element("id", "sms-send").click()
    until(browser, "sms-status", "Erreur : le bac à sable ne répond pas.")
