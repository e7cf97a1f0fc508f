"""Community reports over the webhook: the journey, privacy, the reference and its lookup."""

from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import select

from app.infra import keyring
from app.infra.models import Case, CaseEvent, Message

from .conftest import CODE, Dial
from .helpers import (
    ANONYMOUS,
    BODY,
    CALM,
    OLD_REFERENCE,
    REPORTER,
    SMS,
    URGENT,
    body,
    file_old_report,
    report,
)

# The emergency numbers, as the urgent door and a danger now show them.
NUMBERS = ("Appelez vite le 15 (santé), le 17 (police), le 18 (pompiers) ou la gendarmerie, "
           "80 00 11 14 (gratuit).")  # fmt: skip


def test_an_urgent_report_shows_the_numbers_first_and_ends_with_a_reference(app, client):
    caller = Dial(client, phone=REPORTER)
    caller()
    emergency = caller("3")
    assert emergency.startswith(f"CON {NUMBERS}\n1. Continuer le signalement")
    summary = caller(*URGENT[1:], SMS)  # contactable, with the SMS receipt
    assert summary == (
        "CON Orpaillage, Kadiolo (Massiogo). 2 à 5 filles, 13 ou 14 ans, pas à l'école. "
        "Danger : Mercure / produits. URGENT.\n1. Envoyer\n2. Annuler\n0.Retour 00.Menu"
    )
    done = caller("1")
    reference = done.split("Référence : ")[1][:6]
    assert done == f"END Merci. Référence : {reference}. Notez-la. Suivi : {CODE}, choix 4."
    assert reference.isdigit() and reference[0] != "0"
    # Answers from the main menu to the reference: the emergency screen is the
    # one extra on the urgent path.
    assert len(caller.inputs) == 13
    with app.extensions["db"]() as db:
        case = db.scalars(select(Case)).one()
        receipt = db.scalars(select(Message).where(Message.kind == "receipt")).one()
    assert (case.reference, case.urgent, case.cercle, case.place) == (
        reference, True, "kadiolo", "Massiogo")  # fmt: skip
    assert case.hazard == "mercury" and case.sex == "girls" and case.school == "no"
    # A shared phone keeps the SMS: it names no report, no child, no place.
    assert receipt.body == f"Kalan : code {reference}. Gardez-le. Suivi : {CODE}, choix 4."
    assert receipt.phone == REPORTER
    assert receipt.key == f"receipt:{reference}"  # the key outlives the message: no number


def test_a_danger_happening_now_makes_a_report_urgent(app, client):
    """Violence, on the calm door: asked whether it is now, a yes shows the numbers."""
    caller = Dial(client, phone=REPORTER)
    caller()
    assert caller("2", *BODY[:-1], "9").startswith("CON Danger maintenant ?")
    assert caller("1").startswith(f"CON {NUMBERS}\n1. Continuer le signalement")
    caller("1", ANONYMOUS)
    done = caller("1")
    assert len(caller.inputs) == 14  # the question and the numbers are the two extra
    with app.extensions["db"]() as db:
        case = db.scalars(select(Case)).one()
    assert (case.urgent, case.hazard) == (True, "violence")
    assert case.verify_by - case.created_at == timedelta(hours=24)
    # Sent again, it is the same report: urgent both times, so found by its answers.
    again = Dial(client, phone=REPORTER)
    again("2", *BODY[:-1], "9", "1", "1", ANONYMOUS)
    assert again("1") == done


def test_an_anonymous_report_keeps_no_phone_number(app, client):
    caller, done = report(client, *CALM, contact=ANONYMOUS)
    assert done.startswith("END Merci. Référence : ")
    assert len(caller.inputs) == 12  # answers from the main menu to the reference
    with app.extensions["db"]() as db:
        case = db.scalars(select(Case)).one()
        stored = [str(v) for v in case.__dict__.values()]
        messages = db.scalars(select(Message)).all()
    assert case.reporter_phone is None and case.contactable is False
    assert not any(REPORTER in value or REPORTER[1:] in value for value in stored)
    assert not hasattr(case, "reporter_hash")  # a hash of a phone finds the phone again
    assert case.created_at.minute == case.created_at.second == 0  # to the hour
    assert messages == []  # no receipt: it would keep the number


def test_a_contactable_reporter_is_encrypted_at_rest(app, client):
    report(client, *CALM)
    with app.extensions["db"]() as db:
        case = db.scalars(select(Case)).one()
    assert case.reporter_phone and REPORTER not in case.reporter_phone
    with app.app_context():
        assert keyring.decrypt(case.reporter_phone, current_app.config["REPORTER_KEY"]) == REPORTER


def test_looking_up_a_reference(app, client):
    _, done = report(client, *CALM)
    reference = done.split("Référence : ")[1][:6]
    caller = Dial(client, phone="+22370000999")
    caller()
    assert caller("4", reference.lower()).startswith(f"CON Signalement {reference} : enregistré.")
    caller.drop()
    caller()
    assert caller("4", "ZZZZZZ").startswith("CON Aucun signalement ZZZZZZ.")
    caller.drop()
    caller()
    assert caller("4", "12").startswith("CON Référence non valide")


def test_an_old_letter_reference_is_still_found(app, client, runner, tmp_path):
    """References were letters and digits before they were digits only: they still work."""
    file_old_report(app)
    caller = Dial(client, phone="+22370000998")
    caller()
    expected = f"CON Signalement {OLD_REFERENCE} : enregistré."
    assert caller("4", OLD_REFERENCE.lower()).startswith(expected)
    shown = runner.invoke(["case", "show", OLD_REFERENCE.lower()])
    assert shown.exit_code == 0 and f"Dossier {OLD_REFERENCE} — nouveau" in shown.output
    moved = runner.invoke(["case", "update", OLD_REFERENCE, "--status", "verifying"])
    assert moved.output == f"case {OLD_REFERENCE} is verifying\n"
    out = tmp_path / "cases.csv"
    assert runner.invoke(["cases", "export", str(out)]).exit_code == 0
    assert OLD_REFERENCE in out.read_text(encoding="utf-8")


def test_cancelling_records_nothing(app, client):
    caller = Dial(client, phone=REPORTER)
    caller()
    caller(*CALM, ANONYMOUS)
    assert caller("2").startswith("END Signalement annulé.")
    with app.extensions["db"]() as db:
        assert db.scalars(select(Case)).all() == []


def test_a_dropped_report_can_be_finished(app, client):
    caller = Dial(client, phone=REPORTER)
    caller()
    caller("2", "1", "1")  # Signaler, mining, Sikasso: now on the cercle list
    shown = caller.post("*".join(caller.inputs))
    caller.drop()
    assert caller().startswith("CON Vous n'aviez pas terminé.")
    assert caller("1") == shown


def opened(client) -> str:
    _, done = report(client, *CALM, contact=ANONYMOUS)
    return done.split("Référence : ")[1][:6]


def test_case_states_follow_the_cycle_with_an_audit_log(app, client, runner):
    reference = opened(client)
    for status in ("verifying", "confirmed", "referred", "following", "closed"):
        to = ["--to", "social"] if status == "referred" else []
        result = runner.invoke(
            ["case", "update", reference, "--status", status, "--note", "ok", *to]
        )
        assert result.output == f"case {reference} is {status}\n"
    shown = runner.invoke(["case", "show", reference]).output
    assert f"Dossier {reference} — clos" in shown
    assert "Signaleur : anonyme" in shown
    assert shown.count(" → ") == 5  # five moves after the opening
    assert "  cli  en suivi → clos — ok" in shown


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ((), "closed", "is new: next may be verifying"),
        ((), "lost", "unknown status 'lost'"),
        (("verifying", "unfounded", "closed"), "verifying", "is closed: next may be none"),
    ],
)
def test_illegal_moves_are_refused(app, client, runner, path, status, message):
    reference = opened(client)
    for step in path:
        runner.invoke(["case", "update", reference, "--status", step])
    result = runner.invoke(["case", "update", reference, "--status", status])
    assert result.exit_code == 1 and message in result.output


def test_assign_list_and_export_without_the_reporter(app, client, runner, tmp_path):
    import csv

    reference = opened(client)
    # Another site, so that it is a case of its own; urgent: listed first.
    _, done = report(client, "3", "1", *body("Kalana"), phone="+22376000556")
    urgent = done.split("Référence : ")[1][:6]
    assert runner.invoke(["case", "assign", reference, "70000001"]).output == (
        f"case {reference} assigned to +22370000001\n"
    )
    listing = runner.invoke(["cases", "list"]).output.splitlines()
    assert listing[1].startswith(urgent) and listing[2].startswith(reference)
    assert "+22370000001" in listing[2]
    assert runner.invoke(["cases", "list", "--status", "closed"]).output == "no case\n"
    out = tmp_path / "cases.csv"
    assert runner.invoke(["cases", "export", str(out)]).exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert REPORTER not in text and REPORTER[1:] not in text
    rows = list(csv.DictReader(text.splitlines()))
    assert {r["reference"] for r in rows} == {reference, urgent}
    assert "reporter_phone" not in rows[0] and "reporter_hash" not in rows[0]
    missing = runner.invoke(["case", "show", "ZZZZZZ"])
    assert missing.exit_code == 1 and "no case 'ZZZZZZ'" in missing.output


def test_urgent_cases_are_due_for_verification_sooner(app, client):
    opened(client)
    report(client, "3", "1", *body("Kalana"), phone="+22376000557")
    with app.extensions["db"]() as db:
        rows = {c.urgent: c for c in db.scalars(select(Case))}
    assert rows[True].verify_by - rows[True].created_at == timedelta(hours=24)
    assert rows[False].verify_by - rows[False].created_at == timedelta(hours=72)


def report_again(client, *answers, contact=ANONYMOUS, phone=REPORTER) -> str:
    """Report from a phone that has called before (its language is known); return the end."""
    caller = Dial(client, phone=phone)
    caller(*answers, contact)
    return caller("1")


def test_the_same_report_sent_again_keeps_the_first_reference(app, client):
    _, first = report(client, *CALM, contact=ANONYMOUS)
    second = report_again(client, *CALM)
    assert second == first
    with app.extensions["db"]() as db:
        case = db.scalars(select(Case)).one()
        notes = [e.note for e in db.scalars(select(CaseEvent))]
    assert case.reports == 1
    assert any(n and n.startswith("same report sent again by its reporter") for n in notes)


@pytest.mark.parametrize(
    ("site", "sector", "linked"),
    [
        ("Massiogo", "1", True),  # same cercle, site and sector
        ("massiogo", "1", True),  # the site name, whatever its case
        ("Kalana", "1", False),  # another site
        ("Massiogo", "2", False),  # cotton, not mining
        ("1", "1", False),  # no site name: anywhere in the cercle
    ],
)
def test_a_report_about_an_open_case_is_linked_to_it(app, client, runner, site, sector, linked):
    _, done = report(client, *CALM, contact=ANONYMOUS)
    first = done.split("Référence : ")[1][:6]
    answers = ["2", sector, "1", "2", site, "2", "2", "1", "2", "3"]
    _, other = report(client, *answers, contact=ANONYMOUS, phone="+22376000601")
    second = other.split("Référence : ")[1][:6]
    assert second != first  # every reporter keeps a reference of their own
    with app.extensions["db"]() as db:
        rows = {c.reference: c for c in db.scalars(select(Case))}
    assert (rows[second].linked_to == rows[first].id) is linked
    assert rows[first].reports == (2 if linked else 1)
    assert (rows[second].status == "linked") is linked
    listing = runner.invoke(["cases", "list"]).output
    assert (second in listing) is not linked  # a linked report is a line of its case
    if linked:
        # The linked reference follows its case.
        runner.invoke(["case", "update", first, "--status", "verifying"])
        caller = Dial(client, phone="+22376000602")
        caller()
        assert caller("4", second).startswith(f"CON Signalement {second} : en vérification.")


def test_an_urgent_report_makes_the_linked_case_urgent(app, client):
    _, done = report(client, *CALM, contact=ANONYMOUS)
    report(client, *URGENT, contact=ANONYMOUS, phone="+22376000603")
    with app.extensions["db"]() as db:
        case = db.scalars(select(Case).where(Case.linked_to.is_(None))).one()
        linked = db.scalars(select(Case).where(Case.linked_to == case.id)).one()
    # Due 24 h after the urgent report, not 72 h after the first.
    assert case.urgent and case.verify_by == linked.created_at + timedelta(hours=24)


def test_a_phone_past_its_daily_limit_is_told_at_once(make_app):
    client = make_app(REPORT_DAILY_LIMIT=2).test_client()
    report(client, *CALM, contact=ANONYMOUS)
    report_again(client, *["2", *body("Kalana")])
    refused = Dial(client, phone=REPORTER)
    assert refused("2") == (
        "END Limite du jour atteinte. Urgence : 15, 17, 18, gendarmerie 80 00 11 14."
    )
    # Another phone is not concerned.
    _, done = report(client, *CALM, contact=ANONYMOUS, phone="+22376000604")
    assert done.startswith("END Merci. Référence : ")


def test_at_night_the_urgent_alert_goes_out_and_the_calm_one_waits(make_app, sandbox):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from workers.jobs import dispatch

    from .conftest import Runner

    hour = datetime.now(ZoneInfo("Africa/Bamako")).hour
    shut = f"{(hour + 2) % 24:02d}:00-{(hour + 3) % 24:02d}:00"  # a window closed right now
    app = make_app(AT_API_BASE_URL=sandbox.url, SMS_SEND_WINDOW=shut, SMS_RATE=1000)
    added = Runner(app).invoke(
        ["focal-points", "add", "+22370100001", "--cercle", "kadiolo", "--pin-stdin"],
        input="4821\n",
    )
    assert added.exit_code == 0, added.output
    client = app.test_client()
    _, calm = report(client, *CALM)
    _, urgent = report(client, "3", "1", *body("Kalana"), phone="+22376000610")
    calm, urgent = calm.split("Référence : ")[1][:6], urgent.split("Référence : ")[1][:6]
    with app.app_context():
        dispatch()
    (alert,) = [m["message"] for m in sandbox.messages("+22370100001")]
    assert alert.startswith(f"Kalan URGENT : enfant en danger immédiat, signalement {urgent}.")
    # Receipts answer the reporter's own action: they go at any hour.
    (receipt,) = sandbox.messages(REPORTER)
    assert calm in receipt["message"]
    with app.extensions["db"]() as db:
        waiting = db.scalars(select(Message).where(Message.kind == "case_alert")).all()
    held = [m for m in waiting if m.status == "queued"]
    assert len(held) == 1 and calm in held[0].body and held[0].not_before > held[0].created_at


def test_a_repeat_that_now_accepts_a_call_back_is_a_report_of_its_own(app, client):
    _, first = report(client, *CALM, contact=ANONYMOUS)  # anonymous
    second = report_again(client, *CALM, contact=SMS)  # the same, but contactable now
    assert second != first
    with app.extensions["db"]() as db:
        rows = db.scalars(select(Case).order_by(Case.id)).all()
    assert [r.contactable for r in rows] == [False, True]
    assert rows[1].linked_to == rows[0].id  # same site: linked, with the number kept


def test_case_show_prints_french_labels_not_codes(app, client, runner):
    """The console's words: states, sector, children, danger and service, not stored codes."""
    _, done = report(client, *URGENT, contact=SMS)
    reference = done.split("Référence : ")[1][:6]
    for status in ("verifying", "confirmed", "referred"):
        to = ["--to", "social"] if status == "referred" else []
        runner.invoke(["case", "update", reference, "--status", status, *to])
    shown = runner.invoke(["case", "show", reference, "--reporter"]).output
    lines = shown.splitlines()
    assert lines[:2] == [
        f"Numéro du signaleur : {REPORTER}",
        f"Dossier {reference} — référé (Urgent)",
    ]
    assert lines[2:12] == [
        "Lieu : Kadiolo, Massiogo",
        "Secteur : Orpaillage / site minier",
        "Enfants : 2 à 5",
        "Âge : 13 ou 14 ans",
        "Sexe : Filles",
        "Scolarisés : Non",
        "Danger : Mercure / produits",
        "Signaleur : joignable (numéro chiffré)",
        "Signalements : 1",
        "Agent : -",
    ]
    assert lines[12].startswith("Échéance : ")
    assert lines[13:16] == [
        "Référé à : Service social / promotion de l'enfant",
        "Visites de suivi faites : 0",
        "Historique :",
    ]
    assert lines[16].endswith("  nouveau") and lines[17].endswith("  nouveau → en vérification")
    assert lines[19].endswith("  confirmé → référé — Service social / promotion de l'enfant")
    for code in ("mining", "13to14", "girls", "mercury", "new", "verifying", "referred", "social"):
        assert code not in shown.replace("Service social", "")
    anonymous = opened(client)
    shown = runner.invoke(["case", "show", anonymous, "--reporter"]).output
    assert shown.startswith("Numéro du signaleur : aucun (signalement anonyme)\n")
