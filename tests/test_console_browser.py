"""The console in a real browser: Debian's headless Chromium, driven by Selenium.

tests/browser-setup.sh installs chromium and chromium-driver when they are missing; without
them these tests skip. Screenshots are kept in var/test-artifacts/.
"""

from .conftest import Runner, needs_chromium, serve, shot
from .helpers import ANONYMOUS, CALM, file_old_report, file_reports, report
from .in_process import work

EMAIL, PASSWORD = "superviseur@kalan.example", "mot de passe sûr 42"

pytestmark = needs_chromium


def fresh(driver, url: str) -> None:
    """Forget any sign-in: every test serves a new app on 127.0.0.1, where cookies are shared."""
    driver.get(url + "/console/login")
    driver.delete_all_cookies()


def go(driver, element) -> None:
    """Click what leads to another page, and wait until that page has replaced this one."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element("tag name", "html")
    element.click()

    def replaced(_) -> bool:
        try:
            page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            # Caught mid-navigation, Chromium says so instead of "stale": the page is going.
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False

    WebDriverWait(driver, 20).until(replaced)


def choose(driver, name: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("name", name)).select_by_value(value)


def test_a_supervisor_signs_in_and_moves_a_case_through_its_states(app, browser):
    """Sign in, assign the case, move it from nouveau to clos, and add a closing note."""
    added = Runner(app).invoke(
        ["users", "add", EMAIL, "--role", "supervisor", "--scope", "cercle=kadiolo",
         "--password-stdin"], input=PASSWORD + "\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    point = Runner(app).invoke(["focal-points", "add", "+22366000001", "--cercle", "kadiolo"])
    assert point.exit_code == 0, point.output
    _, done = report(app.test_client(), *CALM, contact=ANONYMOUS)
    reference = done.split("Référence : ")[1][:6]
    with serve(app) as url:
        fresh(browser, url)
        browser.get(url + "/console/cases")
        assert "/console/login" in browser.current_url  # signed out: sent to sign in
        browser.find_element("name", "email").send_keys(EMAIL)
        browser.find_element("name", "password").send_keys(PASSWORD)
        shot(browser, "01-login")
        go(browser, browser.find_element("css selector", "button[type=submit]"))
        # Back where the sign-in began: the cases.
        assert browser.find_element("tag name", "h1").text == "Dossiers"
        go(browser, browser.find_element("link text", "Tableau de bord"))
        assert browser.find_elements("css selector", "svg rect")  # the charts are drawn
        shot(browser, "02-dashboard")
        go(browser, browser.find_element("link text", "Dossiers"))
        go(browser, browser.find_element("link text", reference))
        assert browser.find_element("tag name", "h1").text.startswith(f"Dossier {reference}")
        browser.find_element("name", "phone").send_keys("+22366000001")
        go(browser, browser.find_element("xpath", "//fieldset[2]//button"))  # assign
        assert "+22366000001" in browser.find_element("tag name", "table").text
        for status, service, shown in (
            ("verifying", "", "en vérification"),
            ("confirmed", "", "confirmé"),
            ("referred", "social", "référé"),
            ("following", "", "en suivi"),
            ("closed", "", "clos"),
        ):
            choose(browser, "status", status)
            if service:
                choose(browser, "service", service)
            browser.find_element("name", "note").send_keys(f"étape {status}")
            go(browser, browser.find_element("xpath", "//fieldset[1]//button"))
            assert "Dossier mis à jour." in browser.find_element("css selector", ".flash").text
            assert shown in browser.find_element("tag name", "h1").text
            if status == "referred":
                shot(browser, "03-case-referred")
        browser.find_element("xpath", "//fieldset[last()]//input[@name='note']").send_keys(
            "Enfant rescolarisé, famille suivie par le CPC."
        )
        go(browser, browser.find_element("xpath", "//fieldset[last()]//button"))  # a note
        shot(browser, "03b-case-closed")
        timeline = browser.find_elements("css selector", "table")[-1].text
        assert EMAIL in timeline and "console:" not in timeline  # who acted, in words
        assert "étape referred" in timeline
        assert "étape closed" in timeline and "Enfant rescolarisé" in timeline
        go(browser, browser.find_element("xpath", "//header//button"))  # sign out
        assert "/console/login" in browser.current_url


def test_an_admin_creates_a_campaign_and_watches_it_complete(sms_app, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    runner = Runner(sms_app)
    assert runner.invoke(["seed"]).exit_code == 0  # 3 demo agents among 8 contacts
    added = runner.invoke(["users", "add", "admin@kalan.example", "--role", "admin",
                           "--password-stdin"], input=PASSWORD + "\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    with serve(sms_app) as url:
        fresh(browser, url)
        browser.get(url + "/console/login")
        browser.find_element("name", "email").send_keys("admin@kalan.example")
        browser.find_element("name", "password").send_keys(PASSWORD)
        go(browser, browser.find_element("css selector", "button[type=submit]"))
        go(browser, browser.find_element("link text", "Campagnes"))
        go(browser, browser.find_element("link text", "Nouvelle campagne"))
        counter = browser.find_element("id", "counter")
        # No message yet: the counter says so, and prices nothing.
        WebDriverWait(browser, 10).until(lambda _: "Le message est vide" in counter.text)
        assert "XOF" not in counter.text
        browser.find_element("name", "name").send_keys("Rappel formation")
        choose(browser, "role", "agent")
        browser.find_element("name", "message").send_keys("Bonjour {name}, la formation continue.")
        counter = browser.find_element("id", "counter")
        WebDriverWait(browser, 10).until(lambda _: "3 destinataires" in counter.text)
        assert "fr 1 (GSM-7)" in counter.text and "XOF 75.00" in counter.text
        shot(browser, "04-campaign-compose")
        go(browser, browser.find_element("css selector", "#compose button[type=submit]"))
        # Nothing is created before the confirmation: who, parts and cost first.
        assert browser.find_element("id", "recipients").text == "Destinataires : 3 destinataires"
        assert "1 partie (GSM-7)" in browser.find_element("id", "texts").text
        assert browser.find_element("id", "cost").text.startswith("Prix estimé : XOF 75.00")
        shot(browser, "04b-campaign-confirm")
        go(browser, browser.find_element("css selector", "#confirm button[type=submit]"))
        assert "Campagne créée." in browser.find_element("css selector", ".flash.ok").text
        shown = [f.text for f in browser.find_elements("css selector", "form[data-action]")
                 if f.is_displayed()]  # fmt: skip
        assert shown == ["Mettre en pause", "Annuler la campagne"]  # no Relancer: not paused
        work(sms_app)  # what `make run`'s worker does
        status = browser.find_element("id", "status")
        WebDriverWait(browser, 20).until(lambda _: status.text == "terminée")
        assert browser.find_element("id", "percent").text == "100"
        assert browser.find_element("id", "count-total").text == "3"
        # Pause and Annuler went away as it finished: nothing is left to steer.
        actions = browser.find_elements("css selector", "form[data-action]")
        assert len(actions) == 3 and not [f for f in actions if f.is_displayed()]
        shot(browser, "05-campaign-done")


def test_a_supervisor_finds_a_case_by_its_reference_by_cercle_and_on_the_map(app, browser):
    """Search a reference (part of one, of digits or of letters), choose a cercle from the
    list, and open a cercle's cases from the map."""
    added = Runner(app).invoke(
        ["users", "add", EMAIL, "--role", "supervisor", "--scope", "region=sikasso",
         "--password-stdin"], input=PASSWORD + "\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    kadiolo = file_reports(app, 60)  # more than a page
    sikasso = file_reports(app, 2, first=810000, cercle="sikasso")
    file_reports(app, 1, first=820000, cercle="koutiala", region="koutiala")  # not theirs
    file_old_report(app)  # ACD479, in Kadiolo
    with serve(app) as url:
        fresh(browser, url)
        browser.get(url + "/console/login")
        browser.find_element("name", "email").send_keys(EMAIL)
        browser.find_element("name", "password").send_keys(PASSWORD)
        go(browser, browser.find_element("css selector", "button[type=submit]"))
        go(browser, browser.find_element("link text", "Dossiers"))
        assert browser.find_element("id", "count").text == "Dossiers 1 à 50 sur 63."

        def listed() -> list[str]:
            links = browser.find_elements("css selector", "table a[href*='/console/cases/']")
            return [link.text for link in links]

        search = browser.find_element("name", "q")
        search.send_keys("810 001")
        go(browser, browser.find_element("css selector", "#filters button[type=submit]"))
        assert listed() == [sikasso[1]]
        shot(browser, "06-case-search")
        go(browser, browser.find_element("link text", sikasso[1]))
        assert browser.find_element("tag name", "h1").text.startswith(f"Dossier {sikasso[1]}")
        browser.back()
        search = browser.find_element("name", "q")
        search.clear()
        search.send_keys("acd4")
        go(browser, browser.find_element("css selector", "#filters button[type=submit]"))
        assert listed() == ["ACD479"]
        search = browser.find_element("name", "q")
        search.clear()
        search.send_keys("820000")  # Koutiala's: not in this supervisor's region
        go(browser, browser.find_element("css selector", "#filters button[type=submit]"))
        assert listed() == [] and "Aucun dossier." in browser.page_source
        browser.find_element("name", "q").clear()
        choose(browser, "cercle", "sikasso")
        go(browser, browser.find_element("css selector", "#filters button[type=submit]"))
        assert sorted(listed()) == sikasso
        tile = browser.find_element("css selector", "svg.map a[data-cercle='kadiolo']")
        assert tile.get_attribute("data-count") == "61"
        shot(browser, "07-case-map")
        go(browser, tile)
        assert browser.find_element("id", "count").text == "Dossiers 1 à 50 sur 61."
        go(browser, browser.find_element("css selector", "a[rel=next]"))
        assert browser.find_element("id", "count").text == "Dossiers 51 à 61 sur 61."
        assert set(listed()) < {*kadiolo, "ACD479"}


def test_a_supervisor_finds_a_contact_reads_their_sms_and_answers_one(sms_app, sandbox, browser):
    """Found by part of the name, the contact's SMS both ways, then an answer to the one they
    sent, which reaches their phone in the sandbox and comes back delivered."""
    import requests
    from selenium.webdriver.support.ui import WebDriverWait

    runner = Runner(sms_app)
    assert runner.invoke(["seed"]).exit_code == 0  # Awa Traoré, an agent of Sikasso
    added = runner.invoke(["users", "add", EMAIL, "--role", "supervisor", "--scope",
                           "region=sikasso", "--password-stdin"],
                          input=PASSWORD + "\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    phone, question = "+22370000001", "Bonjour, la formation de samedi est-elle maintenue ?"
    answer = "Oui, samedi à 9 h au CSCom. Merci !"

    with serve(sms_app) as url:
        sandbox.app.config["KALAN_URL"] = url  # the phone's texts, and delivery reports
        sent = requests.post(sandbox.url + "/simulator/sms/send",
                             json={"from": phone, "text": question}, timeout=10).json()  # fmt: skip
        assert sent["delivered"], sent
        work(sms_app)  # the automatic help goes out, as `make run`'s worker sends it
        fresh(browser, url)
        browser.get(url + "/console/login")
        browser.find_element("name", "email").send_keys(EMAIL)
        browser.find_element("name", "password").send_keys(PASSWORD)
        go(browser, browser.find_element("css selector", "button[type=submit]"))
        go(browser, browser.find_element("link text", "Contacts"))
        browser.find_element("name", "q").send_keys("traor")
        go(browser, browser.find_element("css selector", "form[role=search] button"))
        assert browser.find_element("id", "found").text == "1 contact trouvé."
        go(browser, browser.find_element("link text", "Awa Traoré"))
        assert browser.find_element("tag name", "h1").text == f"Awa Traoré — {phone}"
        history = browser.find_element("id", "sent").text
        assert "aide automatique" in history and "Kalan : envoyez FORMATION" in history
        assert question in browser.find_element("id", "received").text
        shot(browser, "06-contact")
        go(browser, browser.find_element("link text", "à traiter"))
        assert browser.find_element("id", "text").text == question
        browser.find_element("name", "text").send_keys(answer)
        go(browser, browser.find_element("css selector", "#reply button"))
        flash = browser.find_element("css selector", ".flash.ok").text
        assert flash == "Réponse mise en file d'envoi."
        assert browser.find_element("id", "answer-status").text == "en attente"
        work(sms_app)

        def delivered(_) -> bool:
            browser.refresh()
            return browser.find_element("id", "answer-status").text == "remis"

        WebDriverWait(browser, 20, poll_frequency=0.5).until(delivered)
        shot(browser, "07-inbox-answered")
        inbox = requests.get(sandbox.url + "/simulator/sms/inbox", params={"phone": phone},
                             timeout=5).json()  # fmt: skip
        assert [m["message"] for m in inbox][-1] == answer
        assert inbox[-1]["status"] == "Success"
