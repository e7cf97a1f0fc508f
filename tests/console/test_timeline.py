"""A case's history in the console: French words for who acted and what Kalan wrote."""

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.cases import alerts
from app.infra.models import Case, CaseEvent, utcnow

from ..helpers import ADMIN, ANONYMOUS, SMS, body, page, report
from .conftest import CONTACTABLE, case_of, reference_of

AGENT, SUPERVISING = "+22366000101", "+22366000102"  # focal points of Kadiolo
# The log's own words: a reader must never meet them.
INTERNAL = ("report", "routing", "reminders", "focal-points", "cli", "console:", "ussd:",
            "assigned", "linked to", "about the same place", "viewed", "unassigned",
            "reminder (", "escalated (", "follow-up", "social:")  # fmt: skip


def timeline(response) -> list[list[str]]:
    """Return the rows of a case page's history: when, who, change, note."""
    table = re.findall(r"<table>.*?</table>", response.get_data(as_text=True), re.S)[-1]
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]
    return [[html.unescape(c).strip() for c in re.findall(r"<td>(.*?)</td>", r, re.S)]
            for r in rows]  # fmt: skip


def remind(app, now) -> None:
    """Run the reminders as the worker's tick does, at now."""
    with app.app_context(), app.extensions["db"]() as db:
        alerts.remind(db, app.config, app.extensions["catalog"], now)


def add_point(runner, phone: str, role: str) -> None:
    result = runner.invoke(["focal-points", "add", phone, "--cercle", "kadiolo", "--role", role])
    assert result.exit_code == 0, result.output


def test_every_line_of_the_history_is_in_french(app, client, auth, runner, staff):
    """Routing, a linked report, a number viewed, a reminder, an escalation, a focal point
    removed, an assignment, moves, a referral, a visit and a note: each line in words."""
    add_point(runner, AGENT, "agent")
    add_point(runner, SUPERVISING, "supervisor")
    _, done = report(client, "2", *body("Massiogo"), contact=SMS, phone=CONTACTABLE)
    reference = reference_of(done)
    _, second = report(client, "2", *body("Massiogo"), contact=ANONYMOUS, phone="+22376000990")
    linked = reference_of(second)
    assert runner.invoke(["case", "show", reference, "--reporter"]).exit_code == 0
    with app.extensions["db"]() as db:  # overdue: verification was due yesterday
        late = utcnow() - timedelta(days=1)
        db.execute(update(Case).where(Case.reference == reference).values(verify_by=late))
        db.commit()
    remind(app, utcnow())
    remind(app, utcnow() + timedelta(days=3))  # the reminder went unheeded: escalated
    assert runner.invoke(["focal-points", "remove", AGENT]).exit_code == 0
    assert auth.login(ADMIN).status_code == 302
    path = f"/console/cases/{reference}"
    auth.post(f"{path}/assign", phone=SUPERVISING)
    for status, service, note in (
        ("verifying", "", ""),
        ("confirmed", "", "vu"),
        ("referred", "social", "transmis"),
        ("followup", "", "école"),
    ):
        auth.post(f"{path}/move", status=status, service=service, note=note)  # fmt: skip
    auth.post(f"{path}/note", note="appel fait")
    _, events = case_of(app, reference)
    assert {e.actor for e in events} == {"report", "routing", "cli", "reminders", "focal-points",
                                         f"console:{ADMIN}"}  # fmt: skip

    rows = timeline(client.get(path))
    assert len(rows) == len(events)
    lines = [row[1:] for row in rows]
    assert lines == [
        ["Signaleur (par téléphone)", "nouveau", ""],
        ["Kalan (attribution automatique)", f"Confié à {AGENT}", ""],
        ["Signaleur (par téléphone)", f"Nouveau signalement {linked} sur le même lieu", ""],
        ["Administrateur (ligne de commande)", "Numéro du signaleur consulté", ""],
        ["Kalan (rappels)", f"Rappel (vérification en retard) envoyé à {AGENT}", ""],
        ["Kalan (rappels)",
         f"Alerte aux superviseurs (vérification en retard) : {SUPERVISING}", ""],
        ["Kalan (retrait d'un point focal)", f"Retiré à {AGENT}, qui n'est plus point focal", ""],
        [ADMIN, f"Confié à {SUPERVISING}", ""],
        [ADMIN, "nouveau → en vérification", ""],
        [ADMIN, "en vérification → confirmé", "vu"],
        [ADMIN, "confirmé → référé — Service social / promotion de l'enfant", "transmis"],
        [ADMIN, "référé → en suivi — Visite de suivi 1", "école"],
        [ADMIN, "en suivi", "appel fait"],
    ]  # fmt: skip
    shown = " ".join(cell for row in lines for cell in row)
    assert [word for word in INTERNAL if word in shown] == []

    (line,) = [row[1:] for row in timeline(client.get(f"/console/cases/{linked}"))]
    assert line == ["Signaleur (par téléphone)", f"Rattaché au dossier {reference}", ""]


@pytest.mark.parametrize(
    ("actor", "note", "change"),
    [
        ("ussd:+22366000101", "", "+22366000101 (par téléphone)"),
        ("reminders", "reminder (followup) already sent, for this due date, to +22366000101",
         "Rappel (visite de suivi en retard) déjà envoyé à +22366000101 pour cette échéance"),
        ("reminders", "escalated (verify) to nobody: no supervisor covers the area",
         "Alerte (vérification en retard) non envoyée : aucun superviseur ne couvre la zone"),
        ("reminders", "escalated (followup) to nobody new: already escalated for this due date",
         "Alerte aux superviseurs (visite de suivi en retard) déjà envoyée pour cette échéance"),
        ("someone-else", "assigned", f"Confié à {AGENT}"),
    ],
)  # fmt: skip
def test_the_words_kalan_writes_alone_read_in_french(app, client, auth, staff, filed, actor,
                                                     note, change):  # fmt: skip
    """What the tests above cannot reach as easily: a desk's phone, repeated reminders, an
    escalation nobody gets, and an actor Kalan does not know (shown as written)."""
    reference = filed["kadiolo"]
    with app.extensions["db"]() as db:
        case_id = db.scalar(select(Case.id).where(Case.reference == reference))
        db.add(CaseEvent(case_id=case_id, actor=actor, from_status="new", to_status="new",
                         note=note or None, assignee=AGENT, at=utcnow()))  # fmt: skip
        db.commit()
    assert auth.login(ADMIN).status_code == 302
    who, shown, rest = timeline(client.get(f"/console/cases/{reference}"))[-1][1:]
    if actor.startswith("ussd:"):
        assert (who, shown) == (change, "nouveau")
    else:
        assert (who, shown, rest) == (actor if actor == "someone-else" else "Kalan (rappels)",
                                      change, "")  # fmt: skip
    assert "console:" not in page(client.get(f"/console/cases/{reference}"))
