"""Editing a contact, opting them out, and back in with their consent noted."""

import pytest
from sqlalchemy import select

from app.infra.models import AuditEntry, Contact, Message

from ..conftest import Dial, phone_key
from ..helpers import assert_french, page, visible
from .conftest import add_campaign, add_contact, expand, flashed

FORM = {"name": "Mariam Koné", "role": "agent", "organisation": "CAEB", "region": "sikasso",
        "cercle": "Kadiolo", "commune": "Fourou", "language": ""}  # fmt: skip


def stored(app, contact_id: int) -> Contact:
    with app.extensions["db"]() as db:
        return db.get(Contact, contact_id)


def audited(app, action: str) -> list[tuple[str, str]]:
    with app.extensions["db"]() as db:
        query = select(AuditEntry.actor, AuditEntry.target).where(AuditEntry.action == action)
        return [tuple(row) for row in db.execute(query)]


def test_an_edit_is_saved_audited_and_read_by_the_next_call(app, client, auth, sign_in):
    phone = "+22376100001"
    contact_id = add_contact(app, phone, "Mariam", "kadiolo", language="fr")
    Dial(client, phone=phone)()  # the day's profile is now cached
    redis = app.extensions["redis"]
    assert redis.exists(phone_key(app, "profile", phone))
    email = sign_in("admin")
    done = auth.post(f"/console/contacts/{contact_id}/edit", **FORM)
    assert flashed(done) == ["Fiche enregistrée."]
    contact = stored(app, contact_id)
    assert {name: getattr(contact, name) for name in FORM} == {**FORM, "language": None}
    assert audited(app, "contact.edit") == [(email, f"contact:{contact_id}")]
    assert not redis.exists(phone_key(app, "profile", phone))  # the next hop reads the new one


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"language": "bm"}, 'la langue "bm" n\'a pas de contenus (langues : fr)'),
        ({"role": "chef"}, 'la fonction "chef" est inconnue'),
        ({"commune": "x" * 61}, "la colonne commune dépasse 60 caractères"),
        ({"name": " "}, "le nom est vide : un nouveau contact doit avoir un nom"),  # as imported
        ({"name": "Mariam\x00"}, "Demande invalide."),  # refused before any view, as any form
    ],
)
def test_a_bad_edit_is_refused_in_french_with_the_form_kept(
    app, client, auth, sign_in, change, problem
):
    contact_id = add_contact(app, "+22376100001", "Mariam", "kadiolo")
    sign_in("national")
    response = auth.post(f"/console/contacts/{contact_id}/edit", follow=False,
                         **{**FORM, **change})  # fmt: skip
    assert response.status_code == 400
    assert_french(response)
    assert problem in visible(response)
    if "name" not in change:  # the form comes back as typed, to be corrected
        typed = {**FORM, **change}
        assert f'value="{typed["name"]}"' in page(response)
        assert f'value="{typed["commune"]}"' in page(response)
    contact = stored(app, contact_id)
    assert (contact.name, contact.role, contact.commune) == ("Mariam", "community", None)


def test_a_scoped_supervisor_edits_within_their_area_only(app, client, auth, sign_in):
    inside = add_contact(app, "+22376100001", "Mariam", "Kadiolo")
    outside = add_contact(app, "+22376100002", "Oumar", "Sikasso")
    sign_in("scoped")  # cercle=kadiolo
    moved = auth.post(f"/console/contacts/{inside}/edit", follow=False,
                      **{**FORM, "cercle": "Sikasso", "region": ""})  # fmt: skip
    assert moved.status_code == 400
    assert "hors de votre zone (Kadiolo)" in visible(moved)
    assert stored(app, inside).cercle == "Kadiolo"
    assert auth.post(f"/console/contacts/{inside}/edit", follow=False, **FORM).status_code == 302
    assert stored(app, inside).name == "Mariam Koné"
    assert auth.post(f"/console/contacts/{outside}/edit", follow=False, **FORM).status_code == 404
    assert stored(app, outside).name == "Oumar"


def test_opting_out_stops_campaigns_at_once(app, client, auth, sign_in, seeded):
    campaign = add_campaign(app, {"role": ["agent"]})
    expand(app, campaign)
    with app.extensions["db"]() as db:
        awa = db.scalars(select(Contact).where(Contact.phone == "+22370000001")).one().id
    email = sign_in("national")
    done = auth.post(f"/console/contacts/{awa}/optout")
    assert flashed(done) == ["Contact désabonné des campagnes et rappels."]
    assert "désabonné depuis le" in visible(done)
    assert stored(app, awa).opted_out_at is not None
    with app.extensions["db"]() as db:
        statuses = dict(db.execute(select(Message.phone, Message.status)).all())
    assert statuses["+22370000001"] == "cancelled" and statuses["+22370000002"] == "queued"
    assert audited(app, "contact.opt_out") == [(email, f"contact:{awa}")]


def test_opting_back_in_needs_the_contacts_consent_noted(app, client, auth, sign_in):
    contact_id = add_contact(app, "+22376100001", "Mariam", "kadiolo")
    email = sign_in("national")
    auth.post(f"/console/contacts/{contact_id}/optout")
    for how in ("", "sms", "pigeon"):  # none, the contact's own START, or unknown
        refused = auth.post(f"/console/contacts/{contact_id}/optin", how=how)
        assert flashed(refused) == [
            "Indiquez comment le contact a donné son consentement pour être réabonné."
        ]
        assert stored(app, contact_id).opted_out_at is not None
    done = auth.post(f"/console/contacts/{contact_id}/optin", how="call",
                     note="  Appel du 3 mars,   à sa demande ")  # fmt: skip
    assert flashed(done) == ["Contact réabonné ; son consentement est noté."]
    contact = stored(app, contact_id)
    assert contact.opted_out_at is None
    assert (contact.consent_by, contact.consent_how) == (email, "call")
    assert contact.consent_note == "Appel du 3 mars, à sa demande"
    shown = visible(done)
    when = contact.consent_at.strftime("%d/%m/%Y %H:%M")
    assert f"Réabonné le {when} : consentement noté par {email}, par téléphone." in shown
    assert "Note : « Appel du 3 mars, à sa demande »" in shown
    assert audited(app, "contact.opt_in") == [(email, f"contact:{contact_id}")]


def test_a_viewer_changes_nothing(app, client, auth, sign_in):
    contact_id = add_contact(app, "+22376100001", "Mariam", "Koutiala")
    sign_in("viewer")  # the Koutiala region: the contact is theirs to read
    assert client.get(f"/console/contacts/{contact_id}").status_code == 200
    for action, form in (("edit", FORM), ("optout", {}), ("optin", {"how": "call"}),
                         ("delete", {"confirm": "yes"})):  # fmt: skip
        response = auth.post(f"/console/contacts/{contact_id}/{action}", follow=False, **form)
        assert response.status_code == 403
        assert_french(response)
    contact = stored(app, contact_id)
    assert (contact.name, contact.opted_out_at) == ("Mariam", None)
