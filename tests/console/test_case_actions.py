"""Acting on a case in the console: moves, assignments, notes."""

import pytest
from sqlalchemy import select

from app.infra.models import Message

from ..helpers import ADMIN, ANONYMOUS, SUPERVISOR, body, page, report
from .conftest import CONTACTABLE, REFUSED, case_of, reference_of


@pytest.mark.parametrize("email", [SUPERVISOR, ADMIN])
def test_moving_a_case_through_the_cycle(app, client, auth, staff, filed, email):
    """New, verifying, confirmed, then referred to the social services, each on the timeline."""
    assert auth.login(email).status_code == 302
    reference = filed["kadiolo"]
    path = f"/console/cases/{reference}/move"
    shown = page(client.get(f"/console/cases/{reference}"))
    assert '<option value="verifying">en vérification</option>' in shown
    steps = [
        ("verifying", "", "visite demain"),
        ("confirmed", "", "trois enfants au puits"),
        ("referred", "social", "dossier transmis"),
    ]
    for status, service, note in steps:
        response = auth.post(path, status=status, service=service, note=note)
        assert response.status_code == 200
        assert response.request.path == f"/console/cases/{reference}"
        assert "Dossier mis à jour." in page(response)
    case, events = case_of(app, reference)
    assert (case.status, case.referred_to) == ("referred", "social")
    assert case.referred_at is not None and case.follow_up_by is not None
    moves = [(e.actor, e.from_status, e.to_status, e.note) for e in events[-3:]]
    assert moves == [
        (f"console:{email}", "new", "verifying", "visite demain"),
        (f"console:{email}", "verifying", "confirmed", "trois enfants au puits"),
        (f"console:{email}", "confirmed", "referred", "social: dossier transmis"),
    ]
    timeline = page(client.get(f"/console/cases/{reference}"))
    # Who acted reads as their address: never the log's "console:" signature.
    assert timeline.count(f"<td>{email}</td>") == 3 and f"console:{email}" not in timeline
    for change in ("nouveau → en vérification", "en vérification → confirmé", "confirmé → référé"):
        assert change in timeline
    assert "Service social / promotion de l'enfant" in timeline
    assert "Noter une visite de suivi" in timeline  # what may be done next


def test_a_follow_up_visit_and_closing_from_the_console(app, client, auth, runner, staff, filed):
    """A referred case takes follow-up visits, then closes, and then offers no move."""
    reference = filed["kadiolo"]
    for status in ("verifying", "confirmed"):
        runner.invoke(["case", "update", reference, "--status", status])
    runner.invoke(["case", "update", reference, "--status", "referred", "--to", "social"])
    assert auth.login().status_code == 302
    path = f"/console/cases/{reference}/move"
    assert "Dossier mis à jour." in page(
        auth.post(path, status="followup", note="enfants à l'école")
    )
    case, events = case_of(app, reference)
    assert (case.status, case.follow_ups) == ("following", 1)
    assert events[-1].note == "follow-up 1: enfants à l'école"
    assert "Dossier mis à jour." in page(auth.post(path, status="closed", note=""))
    shown = page(client.get(f"/console/cases/{reference}"))
    assert "Ce dossier est clos." in shown and path not in shown
    assert case_of(app, reference)[0].status == "closed"


@pytest.mark.parametrize(
    ("before", "status", "service"),
    [
        ((), "confirmed", ""),  # a step skipped
        ((), "closed", ""),
        ((), "referred", "social"),
        ((), "lost", ""),  # no such state
        ((), "followup", ""),  # a follow-up before any referral
        ((), "linked", ""),
        (("verifying", "confirmed"), "referred", ""),  # referring needs the service
        (("verifying", "confirmed"), "referred", "marabout"),  # a service we do not know
        (("verifying",), "verifying", ""),  # where it already is
    ],
)
def test_an_illegal_move_is_refused_in_french_and_changes_nothing(
    app, client, auth, runner, staff, filed, before, status, service
):
    """A move the cycle does not allow flashes the French refusal; the case stays as it was."""
    reference = filed["kadiolo"]
    for step in before:
        assert runner.invoke(["case", "update", reference, "--status", step]).exit_code == 0
    was, events = case_of(app, reference)
    assert auth.login().status_code == 302
    response = auth.post(f"/console/cases/{reference}/move", status=status, service=service)
    assert response.status_code == 200
    assert REFUSED in page(response)
    assert "Dossier mis à jour." not in page(response)
    case, after = case_of(app, reference)
    assert (case.status, case.referred_to, len(after)) == (was.status, None, len(events))


@pytest.mark.parametrize("phone", ["", "   ", "abc", "12", "7000000100000000000000000000000000"])
def test_assigning_to_a_bad_phone_is_refused(app, client, auth, staff, filed, phone):
    """A number that cannot be a phone flashes the French refusal, and nobody is assigned."""
    reference = filed["kadiolo"]
    _, events = case_of(app, reference)
    assert auth.login().status_code == 302
    response = auth.post(f"/console/cases/{reference}/assign", phone=phone)
    assert "Numéro de téléphone non valide." in page(response)
    case, after = case_of(app, reference)
    assert case.assignee is None and len(after) == len(events)
    with app.extensions["db"]() as db:
        assert db.scalars(select(Message).where(Message.kind == "case_assigned")).all() == []


def add_focal_point(runner, phone: str, *area: str) -> None:
    """Register a focal point of an area (--cercle C or --region R), as `focal-points add` does."""
    result = runner.invoke(["focal-points", "add", phone, *area, "--role", "agent"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("phone", ["70000001", "+223 70 00 00 01", "0022370000001"])
def test_assigning_a_case_records_the_agent_and_texts_them(
    app, client, auth, runner, staff, filed, phone
):
    """A focal point of the case's area becomes the assignee, on the timeline, and is texted."""
    reference = filed["kadiolo"]
    add_focal_point(runner, "+22370000001", "--cercle", "kadiolo")
    assert auth.login().status_code == 302
    assert 'list="focal-points"' in page(client.get(f"/console/cases/{reference}"))
    assert '<option value="+22370000001">' in page(client.get(f"/console/cases/{reference}"))
    response = auth.post(f"/console/cases/{reference}/assign", phone=phone)
    assert "Dossier confié. L'agent en est prévenu par SMS." in page(response)
    assert "+22370000001" in page(response)
    case, events = case_of(app, reference)
    assert case.assignee == "+22370000001"
    assert (events[-1].actor, events[-1].note, events[-1].assignee) == (
        f"console:{SUPERVISOR}", "assigned", "+22370000001")  # fmt: skip
    with app.extensions["db"]() as db:
        (sms,) = db.scalars(select(Message).where(Message.kind == "case_assigned")).all()
    assert sms.phone == "+22370000001" and reference in sms.body
    assert CONTACTABLE not in sms.body


@pytest.mark.parametrize("linked", [False, True])
def test_a_closed_or_linked_case_is_not_assigned(app, client, auth, runner, staff, filed, linked):
    """Nobody is handed a closed case (or a report inside another case), and no SMS is spent."""
    reference = filed["kadiolo"]
    if linked:  # a second report about the same site is kept inside the first case
        _, done = report(client, "2", *body("Massiogo"), contact=ANONYMOUS, phone="+22376000799")
        reference = reference_of(done)
        assert case_of(app, reference)[0].status == "linked"
    else:
        for step in ("verifying", "unfounded", "closed"):
            assert runner.invoke(["case", "update", reference, "--status", step]).exit_code == 0
    add_focal_point(runner, "+22370000001", "--cercle", "kadiolo")  # refused for the state only
    _, events = case_of(app, reference)
    assert auth.login().status_code == 302
    assert 'name="phone"' not in page(client.get(f"/console/cases/{reference}"))
    response = auth.post(f"/console/cases/{reference}/assign", phone="70000001")
    assert REFUSED in page(response)
    case, after = case_of(app, reference)
    assert case.assignee is None and len(after) == len(events)
    cli = runner.invoke(["case", "assign", reference, "70000001"])
    assert cli.exit_code == 1 and "it is not assigned" in cli.output
    with app.extensions["db"]() as db:
        assert db.scalars(select(Message).where(Message.kind == "case_assigned")).all() == []


@pytest.mark.parametrize(
    "registered",
    [(), ("--cercle", "koutiala"), ("--region", "koutiala")],  # nobody, or another area
)
def test_a_case_is_assigned_only_to_a_focal_point_of_its_area(
    app, client, auth, runner, staff, filed, registered
):
    """Any other number is refused in French: no assignee, no SMS to a stranger."""
    reference = filed["kadiolo"]
    if registered:
        add_focal_point(runner, "+22370000002", *registered)
    _, events = case_of(app, reference)
    assert auth.login().status_code == 302
    response = auth.post(f"/console/cases/{reference}/assign", phone="+22370000002")
    assert "Ce numéro n'est pas celui d'un point focal de la zone du dossier" in page(response)
    case, after = case_of(app, reference)
    assert case.assignee is None and len(after) == len(events)
    with app.extensions["db"]() as db:
        assert db.scalars(select(Message).where(Message.kind == "case_assigned")).all() == []


def test_a_note_goes_on_the_timeline_without_moving_the_case(app, client, auth, staff, filed):
    """A note is one more line of the timeline; an empty one is refused."""
    reference = filed["kadiolo"]
    path = f"/console/cases/{reference}/note"
    assert auth.login().status_code == 302
    _, events = case_of(app, reference)
    assert "La note est vide." in page(auth.post(path, note="   "))
    assert len(case_of(app, reference)[1]) == len(events)
    response = auth.post(path, note="  Le chef de village   prévenu ")
    assert "Note ajoutée." in page(response)
    assert "Le chef de village prévenu" in page(response)
    case, after = case_of(app, reference)
    assert case.status == "new" and len(after) == len(events) + 1
    assert (after[-1].actor, after[-1].from_status, after[-1].to_status, after[-1].note) == (
        f"console:{SUPERVISOR}", "new", "new", "Le chef de village prévenu")  # fmt: skip


def test_a_long_note_is_cut_to_500_characters(app, client, auth, staff, filed):
    """A note longer than the field allows is stored cut, not refused with an error."""
    reference = filed["kadiolo"]
    assert auth.login().status_code == 302
    assert "Note ajoutée." in page(auth.post(f"/console/cases/{reference}/note", note="a" * 900))
    assert case_of(app, reference)[1][-1].note == "a" * 500
